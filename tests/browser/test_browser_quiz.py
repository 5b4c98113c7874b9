"""Chapter quizzes in Chromium, on the built site: instant feedback, the keyboard,
Material's instant navigation, both colour schemes, and no JavaScript at all.

The HTML comes from hooks/quiz.py and the behaviour from docs/javascripts/quiz.js;
tests/website/test_quiz.py checks the validator and the HTML without a browser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

QUIZZES = ["tokenization/quiz/", "transformer/quiz/", "generating-text/quiz/"]
READY = ".gu-quiz[data-quiz-ready]"


def _norm(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def open_quiz(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(READY)
    page.wait_for_load_state("networkidle")


def choose_by_click(page, question, correct: bool) -> str:
    """Click the label of the first right (or wrong) answer; returns its input's id."""
    radio = question.locator(f'input[data-correct="{"true" if correct else "false"}"]').first
    ident = radio.get_attribute("id")
    question.locator(f'label[for="{ident}"]').click()
    return ident


def explanation(question, ident: str) -> str:
    """The text of the (hidden) explanation written for the answer `ident`."""
    return _norm(question.locator(f'.gu-quiz__explanation[data-answer="{ident}"]').text_content())


def feedback_state(question) -> dict:
    """What the question's live region says, and how the chosen answer looks."""
    return question.evaluate("""q => {
        const fb = q.querySelector('.gu-quiz__feedback');
        const verdicts = fb.querySelectorAll('.gu-quiz__verdict');
        const why = fb.querySelector('.gu-quiz__why');
        const chosen = q.querySelector('.gu-quiz__answer.is-chosen');
        const style = e => e ? getComputedStyle(e) : null;
        return {
            live: fb.getAttribute('aria-live'),
            verdict: verdicts.length ? verdicts[0].innerText.trim() : null,
            verdicts: verdicts.length,
            why: why ? why.textContent : '',
            shown: fb.getBoundingClientRect().height > 0 && style(fb).display !== 'none',
            chosen: chosen ? chosen.querySelector('input').id : null,
            chosenClass: chosen ? chosen.className : null,
            chosenBorder: chosen ? style(chosen).borderTopColor : null,
            plainBorder: style(q.querySelector('.gu-quiz__answer:not(.is-chosen)')).borderTopColor,
            feedbackBorder: style(fb).borderLeftColor,
            state: q.getAttribute('data-quiz-state'),
        };
    }""")


def test_wrong_then_right_answer(page, site_url):
    open_quiz(page, site_url + QUIZZES[0])
    question = page.locator(".gu-quiz__question").first
    before = feedback_state(question)
    assert before["live"] == "polite" and before["verdict"] is None and not before["shown"]

    wrong = choose_by_click(page, question, correct=False)
    after_wrong = feedback_state(question)
    assert question.locator(f"#{wrong}").is_checked()
    assert after_wrong["verdict"] == "\u2717 Not quite." and after_wrong["verdicts"] == 1
    assert _norm(after_wrong["why"]) == explanation(question, wrong)
    assert after_wrong["shown"] and after_wrong["state"] == "wrong"
    assert after_wrong["chosen"] == wrong and "is-wrong" in after_wrong["chosenClass"]
    assert after_wrong["chosenBorder"] != after_wrong["plainBorder"]  # a visible state
    assert question.locator(".gu-quiz__feedback").is_visible()

    right = choose_by_click(page, question, correct=True)
    after_right = feedback_state(question)
    assert after_right["verdict"] == "\u2713 Correct." and after_right["verdicts"] == 1
    assert _norm(after_right["why"]) == explanation(question, right)
    assert explanation(question, wrong) not in _norm(after_right["why"])
    assert after_right["chosen"] == right and "is-correct" in after_right["chosenClass"]
    assert question.locator(".gu-quiz__answer.is-wrong").count() == 0
    assert after_right["chosenBorder"] != after_right["plainBorder"]
    assert after_right["feedbackBorder"] != after_wrong["feedbackBorder"]  # right looks different
    assert page.locator(".gu-quiz__question").nth(1).locator(".gu-quiz__verdict").count() == 0
    assert page.watch.clean(), page.watch


def _active(page) -> dict:
    return page.evaluate("""() => {
        const el = document.activeElement;
        const s = getComputedStyle(el);
        const row = el.closest('.gu-quiz__answer');
        return {
            id: el.id, tag: el.tagName, type: el.type || null,
            inQuiz: !!el.closest('.gu-quiz'), inFeedback: !!el.closest('.gu-quiz__feedback'),
            question: el.closest('.gu-quiz__question') ? el.closest('.gu-quiz__question').id : null,
            focusVisible: el.matches(':focus-visible'),
            outline: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth),
            rowShadow: row ? getComputedStyle(row).boxShadow : null,
        };
    }""")


def test_keyboard_only(page, site_url):
    open_quiz(page, site_url + QUIZZES[0])
    for _ in range(400):  # Tab from the top of the page into the first question
        page.keyboard.press("Tab")
        if _active(page)["type"] == "radio" and _active(page)["inQuiz"]:
            break  # (the palette toggle in the header is a radio too)
    else:
        pytest.fail("Tab never reached a quiz answer")
    focus = _active(page)
    assert focus["inQuiz"] and focus["question"] == "quiz-q1" and focus["id"] == "quiz-q1-a1"
    assert focus["focusVisible"] and focus["outline"] == "solid" and focus["outlineWidth"] >= 2
    assert focus["rowShadow"] not in (None, "none")  # the whole answer row is highlighted
    question = page.locator("#quiz-q1")
    assert feedback_state(question)["verdict"] is None  # focusing is not choosing

    page.keyboard.press("Space")
    state = feedback_state(question)
    assert question.locator("#quiz-q1-a1").is_checked()
    assert state["chosen"] == "quiz-q1-a1" and state["verdict"] is not None
    assert _norm(state["why"]) == explanation(question, "quiz-q1-a1")

    page.keyboard.press("ArrowDown")  # moves to the next answer and chooses it
    state = feedback_state(question)
    assert _active(page)["id"] == "quiz-q1-a2" and question.locator("#quiz-q1-a2").is_checked()
    assert state["chosen"] == "quiz-q1-a2" and state["verdicts"] == 1
    assert _norm(state["why"]) == explanation(question, "quiz-q1-a2")

    page.keyboard.press("ArrowUp")
    assert feedback_state(question)["chosen"] == "quiz-q1-a1"

    for _ in range(10):  # on through the links of the explanation, to the next question
        page.keyboard.press("Tab")
        focus = _active(page)
        if focus["type"] == "radio":
            break
        assert focus["inFeedback"] and focus["tag"] == "A"
    assert focus["question"] == "quiz-q2" and focus["focusVisible"]
    assert page.watch.clean(), page.watch


def test_works_after_instant_navigation(page, site_url):
    """From an article to a quiz, to the other quiz and back, by clicking nav links:
    every quiz that instant navigation swaps in is set up and answers."""
    page.goto(site_url + "tokenization/quirks/")
    page.wait_for_load_state("networkidle")
    page.evaluate("window.__quizNoReload = true")

    for chapter in ("tokenization", "transformer", "generating-text", "tokenization"):
        page.locator(f'nav.md-nav--primary a.md-nav__link[href$="/{chapter}/quiz/"]').first.click()
        page.wait_for_url(f"**/{chapter}/quiz/")
        page.wait_for_selector(READY)
        assert page.evaluate("window.__quizNoReload") is True, "a full page load, not instant"
        assert page.locator(READY).count() == 1
        question = page.locator(".gu-quiz__question").nth(2)
        for correct in (False, True):
            ident = choose_by_click(page, question, correct)
            state = feedback_state(question)
            assert state["verdict"] == ("\u2713 Correct." if correct else "\u2717 Not quite.")
            assert state["verdicts"] == 1 and state["chosen"] == ident
            assert _norm(state["why"]) == explanation(question, ident)
        assert page.locator(".gu-quiz .katex").count() > 0  # math rendered after navigation
        assert page.locator(".katex-error").count() == 0
    assert page.watch.clean(), page.watch


CONTRAST = """el => {
    const parse = c => {
        const m = c.match(/rgba?\\(([^)]+)\\)/);
        if (!m) throw new Error('unexpected colour ' + c);
        const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3]));
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = [255, 255, 255];
    for (const e of chain) bg = over(parse(getComputedStyle(e).backgroundColor), bg);
    const fg = over(parse(getComputedStyle(el).color), bg);
    const lum = rgb => {
        const [r, g, b] = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_feedback_is_readable_in_both_schemes(page, site_url, scheme):
    page.emulate_media(color_scheme=scheme)
    open_quiz(page, site_url + QUIZZES[1])
    expected = "slate" if scheme == "dark" else "default"
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == expected
    question = page.locator(".gu-quiz__question").first
    for correct in (False, True):
        choose_by_click(page, question, correct)
        checked = {
            "verdict": question.locator(".gu-quiz__verdict"),
            "explanation": question.locator(".gu-quiz__why p").first,
            "chosen answer": question.locator(".gu-quiz__answer.is-chosen label"),
            "other answer": question.locator(".gu-quiz__answer:not(.is-chosen) label").first,
            "question": question.locator("legend"),
        }
        for name, element in checked.items():
            ratio = element.evaluate(CONTRAST)
            assert ratio >= 4.5, (
                f"{scheme}, {'right' if correct else 'wrong'} answer: {name} {ratio:.2f}"
            )
    assert page.watch.clean(), page.watch


@pytest.mark.parametrize("path", QUIZZES)
def test_quiz_pages_are_clean(page, site_url, path):
    """Every question answers, math renders, and nothing errs or leaves the origin."""
    open_quiz(page, site_url + path)
    questions = page.locator(".gu-quiz__question")
    n = questions.count()
    assert n >= 6
    assert page.locator(".katex-error").count() == 0
    for i in range(n):
        question = questions.nth(i)
        for correct in (False, True):
            ident = choose_by_click(page, question, correct)
            state = feedback_state(question)
            assert state["verdict"] == ("\u2713 Correct." if correct else "\u2717 Not quite.")
            assert _norm(state["why"]) == explanation(question, ident) != ""
    hrefs = page.eval_on_selector_all(".gu-quiz__feedback a[href]", "els => els.map(a => a.href)")
    assert hrefs and all(h.startswith(site_url) for h in hrefs)  # explanations link into the site
    assert page.watch.clean(), page.watch


def test_without_javascript(browser, site_url):
    """Questions and answers stay readable; explanations wait for JavaScript."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site_url + QUIZZES[0])
        question = page.locator(".gu-quiz__question").first
        assert question.locator("legend").is_visible()
        assert question.locator("label").count() >= 3
        assert all(label.is_visible() for label in question.locator("label").all())
        assert not question.locator(".gu-quiz__explanation").first.is_visible()
        assert page.locator(".gu-quiz__nojs").is_visible()
        question.locator("label").first.click()
        assert question.locator("input").first.is_checked()
        assert question.locator(".gu-quiz__verdict").count() == 0
    finally:
        context.close()


def test_explanations_stay_out_of_the_search_index(built_site):
    """Questions and answers are searchable; the explanations, which give the
    answers away, are not (data-search-exclude)."""
    index = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    for chapter in ("tokenization", "transformer", "generating-text"):
        text = _norm(
            " ".join(
                d["text"] for d in index["docs"] if d["location"].startswith(f"{chapter}/quiz/")
            )
        )
        quiz = yaml.safe_load((ROOT / "docs" / chapter / "quiz.yml").read_text(encoding="utf-8"))
        assert "Question 1 of" in text
        openings = [_norm(a["explanation"])[:30] for q in quiz["questions"] for a in q["answers"]]
        plain = [o for o in openings if re.fullmatch(r"[A-Za-z ,.']+", o)]
        assert len(plain) >= 5
        assert [o for o in plain if o in text] == []
