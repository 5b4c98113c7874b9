"""The built site in a real browser: search, copy buttons, dark mode, every page
clean, screenshots, and the page-weight budget.

Runs Debian's Chromium through Playwright against the site served on 127.0.0.1 (see
conftest.py). Screenshots and the page-weight table go to the `artifacts` folder.
"""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Request
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from site_paths import site_pages

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 1_500_000  # bytes per page, uncompressed, cold cache
SEARCH_INDEX = "search/search_index.json"
LIGHT, DARK = "default", "slate"


# ------------------------------------------------------------------ helpers
_SECTION = re.compile(
    r"-{1,}8<-{1,}[ \t]+\[[ \t]*(start|end)[ \t]*:[ \t]*([a-z][-_0-9a-z]*)[ \t]*\]", re.IGNORECASE
)


def snippet_section(path: str, name: str) -> str:
    """Section `name` of `path`, as pymdownx.snippets includes it with this site's settings:
    the lines between `# --8<-- [start:name]` and `# --8<-- [end:name]`, without the
    markers of nested sections, dedented (`dedent_subsections: true`)."""
    lines, inside, found = [], False, False
    for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
        m = _SECTION.search(line)
        if m and m.group(2) == name:
            if m.group(1) == "start":
                inside = found = True
                continue
            if inside:
                break
        elif m and inside:
            continue  # a nested section's marker
        elif inside:
            lines.append(line)
    assert found and lines, f"no section {name!r} in {path}"
    return textwrap.dedent("\n".join(lines))


def scheme(page) -> str:
    return page.evaluate("document.body.getAttribute('data-md-color-scheme')")


def background(page) -> tuple[int, int, int]:
    """The page's computed background colour (of <body>, which Material paints)."""
    rgb = page.evaluate("getComputedStyle(document.body).backgroundColor")
    r, g, b = (int(float(v)) for v in re.findall(r"[\d.]+", rgb)[:3])
    return r, g, b


def luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = rgb
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def search_index_requested(requests: list[str]) -> bool:
    return any(urlsplit(u).path.endswith("/" + SEARCH_INDEX) for u in requests)


# ------------------------------------------------------------------ search
@pytest.mark.parametrize(
    "start,phrase,article,title",
    [
        (
            "",
            "binary heap cannot cheaply change the priority",
            "tokenization/bpe-under-the-hood/",
            "BPE, under the hood",
        ),
        (
            "tokenization/",
            "cannot extrapolate, amplify or negate",
            "transformer/scaling/",
            "Scaling by sqrt(d_k), and the @V step",
        ),
        (
            "transformer/",
            "borrows the answer from operating systems' virtual memory",
            "generating-text/serving/",
            "Serving many users",
        ),
    ],
    ids=["tokenization", "transformer", "generating-text"],
)
def test_search_finds_an_article_by_a_phrase_from_its_text(
    page, site_url, start, phrase, article, title
):
    """Typing a phrase from an article into Material's search box lists that article
    (its link and title). Search runs in a web worker on the site's own index, which is
    fetched only once the reader starts to search (docs/javascripts/search-on-demand.js)."""
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(site_url + start)
    page.wait_for_load_state("networkidle")
    assert not search_index_requested(requests), "the search index was fetched on page load"

    box = page.locator("input.md-search__input")
    box.click()
    box.press_sequentially(phrase, delay=10)
    target = urlsplit(site_url + article).path
    results = page.locator(".md-search-result__list > li")
    try:  # results update as the query is typed: wait for the article's entry
        page.wait_for_function(
            "(path) => [...document.querySelectorAll('.md-search-result__list > li > a')]"
            ".some(a => new URL(a.href).pathname === path)",
            arg=target,
            timeout=15_000,
        )
    except PlaywrightTimeoutError:
        listed = [li.locator("a").first.get_attribute("href") for li in results.all()]
        pytest.fail(f"searching {phrase!r} does not list {article}; it lists {listed}")
    entry = results.filter(has=page.locator(f"a[href*='{article}']")).first
    assert title in entry.inner_text(), entry.inner_text()

    assert search_index_requested(requests), "results appeared without the site's index?"
    assert any(
        urlsplit(w.url).path.startswith("/assets/javascripts/workers/search")
        and w.url.startswith(site_url)
        for w in page.workers
    ), page.workers
    assert all(urlsplit(u).netloc == urlsplit(site_url).netloc for u in requests), requests
    assert page.watch.clean(), page.watch


# ------------------------------------------------------------------ copy buttons
@pytest.mark.parametrize(
    "article,path,section",
    [
        ("tokenization/bpe-under-the-hood/", "code/groundup/tokenizer/bpe.py", "encode_ordinary"),
        ("transformer/walkthrough/", "code/groundup/model/gpt.py", "generate"),
        ("generating-text/kv-cache/", "code/groundup/inference/kv_cache.py", "reserve"),
    ],
    ids=["tokenization", "transformer", "generating-text"],
)
def test_copy_button_copies_exactly_the_code_in_code_dir(page, site_url, article, path, section):
    """A snippet's copy button puts on the clipboard exactly the section of the file in
    `code/` (both sections are indented methods, so the dedent is checked too)."""
    expected = snippet_section(path, section)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(site_url))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page.goto(site_url + article)
    page.wait_for_load_state("networkidle")

    first_line = expected.splitlines()[0]
    index = page.evaluate(
        "(first) => [...document.querySelectorAll('div.highlight pre > code')]"
        ".findIndex(c => c.textContent.trimStart().startsWith(first))",
        first_line,
    )
    assert index >= 0, f"no code block on {article} starts with {first_line!r}"
    pre = page.locator("div.highlight pre").nth(index)
    page.evaluate("navigator.clipboard.writeText('not copied yet')")
    pre.hover()
    pre.locator("button[data-md-type=copy], button.md-clipboard").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    for _ in range(20):  # the copy is synchronous in practice; allow a moment anyway
        if copied != "not copied yet":
            break
        time.sleep(0.05)
        copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.rstrip("\n") == expected.rstrip("\n"), (
        f"clipboard:\n{copied}\n---- {path}:{section}:\n{expected}"
    )
    assert page.watch.clean(), page.watch


# ------------------------------------------------------------------ dark mode
def toggle_palette(page) -> None:
    page.locator("form[data-md-component=palette] label:not([hidden])").click()


def test_dark_mode_toggle_switches_persists_and_repaints(page, site_url):
    """The palette toggle switches the scheme, the background really changes, and the
    choice survives a reload and an instant navigation (and switching back works)."""
    page.goto(site_url + "transformer/scaling/")
    page.wait_for_load_state("networkidle")
    assert scheme(page) == LIGHT
    light_bg = background(page)

    toggle_palette(page)
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    dark_bg = background(page)
    assert dark_bg != light_bg
    assert luminance(dark_bg) < luminance(light_bg) - 100, (light_bg, dark_bg)

    page.reload()
    page.wait_for_load_state("networkidle")
    assert scheme(page) == DARK, "the dark scheme did not survive a reload"
    assert background(page) == dark_bg

    # An instant navigation (Material swaps the page in without a reload): a marker set
    # on `window` survives it, and a full page load would lose it.
    page.evaluate("window.__groundupNoReload = true")
    page.locator("a.md-footer__link--next").click()
    page.wait_for_url("**/transformer/multi-head-attention/")
    page.wait_for_function(  # the URL changes first, then the new content is swapped in
        "document.querySelector('article h1')?.textContent.includes('Multi-head attention')"
    )
    assert page.evaluate("window.__groundupNoReload === true"), "that was not an instant navigation"
    assert scheme(page) == DARK, "the dark scheme did not survive an instant navigation"
    assert background(page) == dark_bg

    toggle_palette(page)
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'default'")
    assert background(page) == light_bg
    page.reload()
    page.wait_for_load_state("networkidle")
    assert scheme(page) == LIGHT, "switching back to light did not persist"
    assert page.watch.clean(), page.watch


# ------------------------------------------------------------------ every page clean
def test_no_console_errors_and_no_foreign_requests_on_any_page(page, site_url, built_site):
    """Every built page (and 404.html) loads without console errors, uncaught exceptions
    or requests to any other origin, and every request it makes succeeds."""
    paths = [*site_pages(built_site), "404.html"]
    failed_requests: list[str] = []
    page.on(
        "response",
        lambda r: failed_requests.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )

    def on_failed(request: Request) -> None:
        # Chromium fetches the favicon after the page has loaded, and the next `goto`
        # cancels that fetch (net::ERR_ABORTED): a navigation, not a failure of the site.
        # A missing favicon still fails, as a response with status 404 (above).
        if request.url.endswith("/favicon.png") and request.failure == "net::ERR_ABORTED":
            return
        failed_requests.append(f"failed {request.url}: {request.failure}")

    page.on("requestfailed", on_failed)
    w = page.watch
    failures = []
    for path in paths:
        before = [
            len(w.console_errors),
            len(w.page_errors),
            len(w.foreign_requests),
            len(failed_requests),
        ]
        response = page.goto(site_url + path)
        page.wait_for_load_state("networkidle")
        problems = []
        if response is None or response.status != 200:
            problems.append(f"status {response and response.status}")
        for name, items, n in zip(
            ("console error", "page error", "foreign request", "request"),
            (w.console_errors, w.page_errors, w.foreign_requests, failed_requests),
            before,
        ):
            problems += [f"{name}: {item}" for item in items[n:]]
        if problems:
            failures.append(f"/{path}:\n    " + "\n    ".join(problems))
    assert not failures, f"{len(failures)} of {len(paths)} pages failed:\n" + "\n".join(failures)


# ------------------------------------------------------------------ screenshots
SCREENSHOTS = {"home": "", "article-why-tokens": "tokenization/why-tokens/"}


def test_screenshots_in_both_schemes(browser, site_url, artifacts):
    """Full-page screenshots of the home page and an article, light and dark (the dark
    ones through the reader's OS preference, which picks Material's slate scheme)."""
    written = {}
    for color_scheme, expected in (("light", LIGHT), ("dark", DARK)):
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, color_scheme=color_scheme
        )
        try:
            page = context.new_page()
            for name, path in SCREENSHOTS.items():
                page.goto(site_url + path)
                page.wait_for_load_state("networkidle")
                page.evaluate("document.fonts.ready.then(() => true)")
                assert scheme(page) == expected, (name, color_scheme, scheme(page))
                out = artifacts / f"screenshot-{name}-{color_scheme}.png"
                out.unlink(missing_ok=True)
                page.screenshot(path=str(out), full_page=True)
                written[name, color_scheme] = out
        finally:
            context.close()

    mean = {}
    for (name, color_scheme), out in written.items():
        assert out.is_file() and out.stat().st_size > 20_000, out
        with Image.open(out) as image:
            assert image.format == "PNG"
            width, height = image.size
            assert width == 1280 and height >= 900, (out, image.size)
            stats = ImageStat.Stat(image.convert("L"))
            assert stats.stddev[0] > 10, f"{out} is nearly blank"
            mean[name, color_scheme] = stats.mean[0]
    for name in SCREENSHOTS:
        assert mean[name, "dark"] < mean[name, "light"] - 50, (name, mean)
    with Image.open(written["article-why-tokens", "light"]) as image:
        assert image.size[1] > 2 * 900, "the article screenshot is not the full page"


# ------------------------------------------------------------------ page weight
KIND = {"document": "HTML", "script": "JS", "stylesheet": "CSS", "font": "fonts"}
COLUMNS = ["HTML", "JS", "CSS", "fonts", "other"]


def page_weight(browser, url: str) -> dict[str, int]:
    """Bytes received by a first visit to `url` (fresh profile, empty cache), by kind."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    try:
        page = context.new_page()
        responses = []
        page.on("response", lambda r: responses.append(r))
        page.goto(url)
        page.wait_for_load_state("networkidle")
        weight = dict.fromkeys(COLUMNS, 0)
        for response in responses:
            try:
                size = len(response.body())
            except PlaywrightError:  # a body Chromium no longer holds: use its header
                size = int(response.headers["content-length"])
            weight[KIND.get(response.request.resource_type, "other")] += size
        weight["total"] = sum(weight[c] for c in COLUMNS)
        return weight
    finally:
        context.close()


def test_every_page_weighs_at_most_the_budget(browser, site_url, built_site, artifacts):
    """Each page transfers at most 1.5 MB on a first visit: HTML, scripts, styles, fonts,
    images and whatever it fetches after load (a fresh profile per page, so nothing is
    cached; waits for network idle).

    Measured uncompressed (`len(response.body())`): the test server sends files as they
    are, while GitHub Pages gzips text, so real transfers are smaller and the budget is
    conservative. Sourcemaps are not counted (browsers fetch them only with devtools
    open). The table goes to `page-weights.md` in the artifacts folder.
    """
    weights = {path: page_weight(browser, site_url + path) for path in site_pages(built_site)}
    order = sorted(weights, key=lambda p: -weights[p]["total"])

    def kb(n: int) -> str:
        return f"{n / 1000:,.0f}"

    lines = [
        f"# Page weights (first visit, uncompressed bytes; budget {BUDGET:,} per page)",
        "",
        (
            'Sizes in kB (1 kB = 1,000 bytes), heaviest first. "other" is XHR/fetch'
            " (sitemap.xml, the search index if a page fetched it), images and the like."
        ),
        "",
        "| page | total | HTML | JS | CSS | fonts | other | within budget |",
        "|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for path in order:
        w = weights[path]
        cells = " | ".join(kb(w[c]) for c in ["total", *COLUMNS])
        lines.append(f"| /{path} | {cells} | {'yes' if w['total'] <= BUDGET else '**NO**'} |")
    table = "\n".join(lines) + "\n"
    (artifacts / "page-weights.md").write_text(table, encoding="utf-8")
    print("\n" + table)

    over = [f"/{p}: {weights[p]['total']:,} bytes" for p in order if weights[p]["total"] > BUDGET]
    assert not over, f"pages over the {BUDGET:,}-byte budget:\n" + "\n".join(over) + "\n\n" + table
