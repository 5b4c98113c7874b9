"""The sampling playground on "Sampling and decoding", in Chromium: the bars and the
kept marks equal what `SamplingSettings.process` computes in Python from the JSON the
page ships, for several prompts and slider settings (a top-k tie included); the
keyboard moves the sliders; it starts after Material's instant navigation and in the
dark scheme; no request leaves the site.

The HTML and the JSON come from code/groundup/pages/generating_text/sampling/playground.py, the
behaviour from docs/javascripts/playground.js; tests/pages/generating_text/
test_sampling.py checks the JSON builder without a browser.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from groundup.inference import SamplingSettings

PAGE = "generating-text/sampling/"
READY = "[data-playground-ready]"
TOP_K_OFF = 101  # the slider's highest position (playground.TOP_K)


def open_playground(page: Any, url: str) -> dict[str, Any]:
    """Open the page, wait for the widget, and return the data it ships."""
    page.goto(url)
    page.wait_for_selector(READY)
    return page.evaluate(
        "() => JSON.parse(document.querySelector('[data-playground]').dataset.playground)"
    )


def set_controls(page: Any, prompt: int, t: float, k: int | None, p: float) -> None:
    """Set the select and the sliders as a reader would, one input event each."""
    page.evaluate(
        """([prompt, t, k, p]) => {
            const set = (name, value) => {
                const el = document.querySelector(`[data-control="${name}"]`);
                el.value = String(value);
                el.dispatchEvent(new Event(el.tagName === 'SELECT' ? 'change' : 'input',
                                           {bubbles: true}));
            };
            set('prompt', prompt); set('temperature', t); set('top-k', k); set('top-p', p);
        }""",
        [prompt, t, TOP_K_OFF if k is None else k, p],
    )


def read_bars(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => ({
            rows: [...document.querySelectorAll('.gu-playground__row')].map(r => ({
                id: Number(r.dataset.tokenId), p: Number(r.dataset.p),
                before: Number(r.dataset.pBefore), kept: r.dataset.kept === 'true',
                cut: r.classList.contains('is-cut')})),
            count: Number(document.querySelector('.gu-playground__summary').dataset.keptCount),
        })"""
    )


def expected(
    data: dict[str, Any], prompt: int, t: float, k: int | None, p: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The library's answer from the shipped logits: (sampled probs, kept, tempered probs).

    The browser computes in float64, so the probabilities to compare with are the
    library's in float64 too; the kept set must be the same in float32, PyTorch's usual
    dtype (in float32 the probabilities differ from float64 in their seventh digit)."""
    settings = SamplingSettings(temperature=t, top_k=k, top_p=p)
    logits = torch.tensor([data["prompts"][prompt]["logits"]], dtype=torch.float64)  # (1, V)
    processed = settings.process(logits)[0]
    kept = torch.isfinite(processed)
    assert torch.equal(kept, torch.isfinite(settings.process(logits.float())[0]))
    return processed.softmax(-1), kept, (logits[0] / t).softmax(-1)


def a_top_k_tie(data: dict[str, Any]) -> tuple[int, int]:
    """A (prompt, k) on the slider where the k-th and (k+1)-th logits are equal."""
    for n, entry in enumerate(data["prompts"]):
        s = sorted(entry["logits"], reverse=True)
        for k in range(1, TOP_K_OFF):
            if s[k - 1] == s[k]:
                return n, k
    pytest.fail("no prompt has a top-k tie within the slider's range")


def assert_matches(page: Any, data: dict[str, Any], setting: tuple) -> None:
    prompt, t, k, p = setting
    probs, kept, tempered = expected(data, prompt, t, k, p)
    shown = read_bars(page)
    rows = shown["rows"]
    assert [r["id"] for r in rows] == data["prompts"][prompt]["top"], setting
    for r in rows:
        assert r["kept"] == bool(kept[r["id"]]) and r["cut"] != r["kept"], (setting, r)
        assert r["p"] == pytest.approx(float(probs[r["id"]]), abs=1e-12), (setting, r)
        assert r["before"] == pytest.approx(float(tempered[r["id"]]), abs=1e-12), (setting, r)
    assert shown["count"] == int(kept.sum()), setting


def test_bars_equal_the_library_for_several_settings(page: Any, site_url: str) -> None:
    data = open_playground(page, site_url + PAGE)
    assert len(data["prompts"]) >= 4 and data["vocab_size"] == len(data["prompts"][0]["logits"])
    assert_matches(page, data, (0, 1.0, None, 1.0))  # the starting position
    tie_prompt, tie_k = a_top_k_tie(data)
    settings = [
        (0, 0.7, None, 0.9),
        (1, 1.5, 10, 0.95),
        (2, 2.0, None, 0.5),
        (3, 0.1, None, 1.0),
        (4, 1.0, 1, 1.0),
        (5, 1.25, 40, 0.8),
        (2, 0.5, 3, 0.6),
        (5, 2.0, 100, 0.99),
        (tie_prompt, 1.0, tie_k, 1.0),  # the k-th logit is tied: more than k stay
        (tie_prompt, 1.8, tie_k, 0.97),
    ]
    for setting in settings:
        set_controls(page, *setting)
        assert_matches(page, data, setting)
    set_controls(page, tie_prompt, 1.0, tie_k, 1.0)
    assert read_bars(page)["count"] > tie_k
    assert page.watch.clean(), page.watch


def test_the_keyboard_moves_the_sliders(page: Any, site_url: str) -> None:
    data = open_playground(page, site_url + PAGE)
    page.focus("#gu-pg-prompt")
    page.keyboard.press("Tab")  # from the prompt to the temperature slider
    assert page.evaluate("document.activeElement.id") == "gu-pg-temperature"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    for _ in range(4):
        page.keyboard.press("ArrowLeft")  # 1.0 -> 0.8 in steps of 0.05
    assert page.input_value("#gu-pg-temperature") == "0.8"
    assert page.text_content('[data-output="temperature"]') == "0.80"
    assert_matches(page, data, (0, 0.8, None, 1.0))
    page.keyboard.press("Tab")  # top-k, from "off" down to 100
    page.keyboard.press("ArrowLeft")
    assert_matches(page, data, (0, 0.8, 100, 1.0))
    page.focus("#gu-pg-prompt")
    page.keyboard.press("ArrowDown")  # the next prompt
    assert page.input_value("#gu-pg-prompt") == "1"
    assert_matches(page, data, (1, 0.8, 100, 1.0))


def test_it_starts_after_instant_navigation_and_in_the_dark(page: Any, site_url: str) -> None:
    page.goto(site_url)
    page.wait_for_load_state("networkidle")
    page.evaluate("window.guSamePage = true")  # survives an instant navigation only
    page.locator(f'a[href$="{PAGE}"]').first.click()
    page.wait_for_selector(READY)
    assert page.evaluate("location.pathname").endswith(PAGE)
    assert page.evaluate("window.guSamePage === true"), "the link reloaded the page"
    assert page.locator(".gu-playground__row").count() == 20
    page.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
    colours = page.evaluate(
        """() => {
            const bg = getComputedStyle(document.body).backgroundColor;
            const bar = getComputedStyle(document.querySelector('.gu-playground__bar'));
            const tok = getComputedStyle(document.querySelector('.gu-playground__token'));
            return {bg, bar: bar.backgroundColor, ink: tok.color};
        }"""
    )
    assert colours["bar"] != colours["bg"] and colours["ink"] != colours["bg"]
    assert page.watch.clean(), page.watch
