"""Reading progress in the browser: the "Mark as read" toggle, the chapter and site
counters, across reloads and Material's instant navigation (links clicked, never
`goto`), keyboard only, and with the site served under a sub-path."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect


def _browser_conftest():
    """This folder's conftest, for its `watch` and quiet handler (never imported by name:
    tests/conftest.py is a `conftest` too)."""
    spec = importlib.util.spec_from_file_location(
        "groundup_browser_conftest_progress", Path(__file__).with_name("conftest.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass needs it
    spec.loader.exec_module(module)
    return module


_conftest = _browser_conftest()

ARTICLE = "tokenization/why-tokens/"
CHAPTER = "tokenization/"
KEY = "groundup.read.v1:"


def structure(page) -> dict:
    return json.loads(page.locator("#gu-reading-data").get_attribute("data-gu-structure"))


def chapter_of(data: dict, key: str) -> dict:
    return next(c for c in data["chapters"] if c["key"] == key)


def mark_instant(page) -> None:
    """A flag that a full page load would wipe: still set means instant navigation."""
    page.evaluate("window.__guStayed = true")


def assert_instant(page) -> None:
    assert page.evaluate("window.__guStayed === true"), "the link caused a full page load"


def toggle(page):
    return page.get_by_role("button", name="Mark as read")


def chapter_counter(page):
    return page.locator(f'.gu-panel [data-gu-count="{CHAPTER}"]')


def test_mark_as_read_survives_reload_and_instant_navigation(context, root_url):
    site_url = root_url
    page = new_page(context, site_url)
    page.goto(site_url + ARTICLE)
    m = len(chapter_of(structure(page), CHAPTER)["articles"])
    total = sum(len(c["articles"]) for c in structure(page)["chapters"])
    assert m >= 5 and total > m

    button = toggle(page)
    expect(button).to_have_count(1)
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(chapter_counter(page)).to_have_text(f"0 of {m} read")

    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(chapter_counter(page)).to_have_text(f"1 of {m} read")
    expect(page.locator(f'.gu-meta [data-gu-article="{ARTICLE}"]')).to_be_visible()
    stored = json.loads(page.evaluate(f"localStorage.getItem('{KEY}/')"))
    assert list(stored) == [ARTICLE]

    page.reload()
    expect(toggle(page)).to_have_attribute("aria-pressed", "true")
    expect(chapter_counter(page)).to_have_text(f"1 of {m} read")

    # to the chapter index, by the chapter link under the title
    mark_instant(page)
    page.locator(".gu-meta a").click()
    page.wait_for_url(site_url + CHAPTER)
    assert_instant(page)
    expect(page.locator(f'.gu-summary [data-gu-count="{CHAPTER}"]')).to_have_text(f"1 of {m} read")
    expect(page.locator(f'.gu-chip[data-gu-article="{ARTICLE}"]')).to_have_class(
        "gu-chip gu-is-read"
    )
    expect(page.locator(".gu-chip.gu-is-read")).to_have_count(1)
    assert page.get_by_role("button", name="Mark as read").count() == 0

    # to the home page, by the logo in the header
    page.locator("a.md-logo").first.click()
    page.wait_for_url(site_url)
    assert_instant(page)
    step = page.locator(f'.gu-step[data-gu-chapter="{CHAPTER}"]')
    expect(step.locator("[data-gu-count]")).to_have_text(f"1 of {m} read")
    expect(page.locator('[data-gu-count="*"]')).to_have_text(f"1 of {total} read")
    expect(page.locator('[data-gu-count="*"]')).to_be_visible()
    second = chapter_of(structure(page), CHAPTER)["articles"][1]
    expect(step.locator(".gu-next")).to_have_text("Continue with " + second["title"])
    chapters = structure(page)["chapters"]
    assert chapters[0]["key"] == CHAPTER and len(chapters) > 1
    other = page.locator(".gu-step[data-gu-chapter]").nth(1).locator("[data-gu-count]")
    expect(other).to_have_text(f"0 of {len(chapters[1]['articles'])} read")

    # back to the article from the map, and unmark it
    step.locator("summary").click()
    step.locator(f'li[data-gu-article="{ARTICLE}"] a').click()
    page.wait_for_url(site_url + ARTICLE)
    assert_instant(page)
    expect(toggle(page)).to_have_attribute("aria-pressed", "true")
    toggle(page).click()
    expect(toggle(page)).to_have_attribute("aria-pressed", "false")
    expect(chapter_counter(page)).to_have_text(f"0 of {m} read")
    assert json.loads(page.evaluate(f"localStorage.getItem('{KEY}/')")) == {}

    page.locator(".gu-meta a").click()
    page.wait_for_url(site_url + CHAPTER)
    assert_instant(page)
    expect(page.locator(f'.gu-summary [data-gu-count="{CHAPTER}"]')).to_have_text(f"0 of {m} read")
    expect(page.locator(".gu-chip.gu-is-read")).to_have_count(0)
    assert page.watch.clean(), page.watch


def test_keyboard_only(context, root_url):
    site_url = root_url
    page = new_page(context, site_url)
    page.goto(site_url + ARTICLE)
    m = len(chapter_of(structure(page), CHAPTER)["articles"])
    expect(toggle(page)).to_be_visible()
    for _ in range(800):  # Tab through the page until the toggle has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.hasAttribute('data-gu-toggle')"):
            break
    else:
        pytest.fail("Tab never reached the Mark as read button")
    expect(toggle(page)).to_be_focused()
    page.keyboard.press("Space")
    expect(toggle(page)).to_have_attribute("aria-pressed", "true")
    expect(chapter_counter(page)).to_have_text(f"1 of {m} read")
    page.keyboard.press("Enter")
    expect(toggle(page)).to_have_attribute("aria-pressed", "false")
    expect(chapter_counter(page)).to_have_text(f"0 of {m} read")
    page.keyboard.press("Enter")
    expect(toggle(page)).to_have_attribute("aria-pressed", "true")
    expect(toggle(page)).to_be_focused()
    # the state is announced beside the button
    described = toggle(page).get_attribute("aria-describedby")
    expect(page.locator(f"#{described}")).to_contain_text(f"1 of {m} read")
    assert page.watch.clean(), page.watch


@contextmanager
def serve(built_site: Path, root: Path, prefix: str) -> Iterator[str]:
    """Serve the built site at http://127.0.0.1:PORT/<prefix>, with its sitemap.xml
    pointing there, as a deployment built with that `site_url` would have it: Material's
    instant navigation only takes over links that its sitemap lists, and it rebases the
    sitemap's scheme and host, not its port or path."""
    target = root / prefix
    target.mkdir(parents=True, exist_ok=True)
    for entry in built_site.iterdir():
        if entry.name not in ("sitemap.xml", "sitemap.xml.gz"):
            (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    handler = functools.partial(_conftest._QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/{prefix}"
    sitemap = (built_site / "sitemap.xml").read_text(encoding="utf-8")
    locs = re.findall(r"<loc>(.*?)</loc>", sitemap)
    home = min(locs, key=len)  # the site_url the site was built with
    assert all(loc.startswith(home) for loc in locs), home
    (target / "sitemap.xml").write_text(
        sitemap.replace(f"<loc>{home}", f"<loc>{url}"), encoding="utf-8"
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def root_url(built_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(built_site, tmp_path_factory.mktemp("served-root"), "") as url:
        yield url


@pytest.fixture(scope="module")
def sub_path_url(built_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The site under /groundup/, as a GitHub Pages project site is served."""
    with serve(built_site, tmp_path_factory.mktemp("served-sub"), "groundup/") as url:
        yield url


def new_page(context, url: str):
    """A page in the test's fresh profile; `page.watch` records errors and foreign requests."""
    pg = context.new_page()
    pg.watch = _conftest.watch(pg, url)
    return pg


def test_another_tab_follows_and_the_toggle_acts_once(context, root_url):
    """A change in one tab reaches the other through the `storage` event (which runs
    the page's initialisation again: the button must still toggle exactly once)."""
    first, second = new_page(context, root_url), new_page(context, root_url)
    first.goto(root_url + ARTICLE)
    second.goto(root_url + ARTICLE)
    m = len(chapter_of(structure(first), CHAPTER)["articles"])
    toggle(first).click()
    expect(toggle(second)).to_have_attribute("aria-pressed", "true")
    expect(chapter_counter(second)).to_have_text(f"1 of {m} read")
    toggle(second).click()
    expect(toggle(second)).to_have_attribute("aria-pressed", "false")
    expect(chapter_counter(second)).to_have_text(f"0 of {m} read")
    expect(toggle(first)).to_have_attribute("aria-pressed", "false")
    expect(chapter_counter(first)).to_have_text(f"0 of {m} read")
    assert first.watch.clean(), first.watch
    assert second.watch.clean(), second.watch


def test_under_a_sub_path(context, sub_path_url):
    page = new_page(context, sub_path_url)
    page.goto(sub_path_url + ARTICLE)
    toggle(page).click()
    expect(toggle(page)).to_have_attribute("aria-pressed", "true")
    assert list(json.loads(page.evaluate(f"localStorage.getItem('{KEY}/groundup/')"))) == [ARTICLE]
    mark_instant(page)
    page.locator("a.md-logo").first.click()
    page.wait_for_url(sub_path_url)
    assert_instant(page)
    total = sum(len(c["articles"]) for c in structure(page)["chapters"])
    expect(page.locator('[data-gu-count="*"]')).to_have_text(f"1 of {total} read")
    step = page.locator(f'.gu-step[data-gu-chapter="{CHAPTER}"]')
    step.locator(".gu-next").click()  # "Continue with" the chapter's second article
    second = chapter_of(structure(page), CHAPTER)["articles"][1]["url"]
    page.wait_for_url(sub_path_url + second)
    assert_instant(page)
    expect(toggle(page)).to_have_attribute("aria-pressed", "false")
    expect(chapter_counter(page)).to_contain_text("1 of")
    assert page.watch.clean(), page.watch
