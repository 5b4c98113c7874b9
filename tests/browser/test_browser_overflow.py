"""Nothing on any page is cut off, on a phone (390 px) or a laptop (1280 px).

Every page of the built site, at each width, in Debian's Chromium (see conftest.py):

- every element of the article whose content is wider than its box (`scrollWidth >
  clientWidth`) is, or sits inside, a scroll container (computed `overflow-x` auto or
  scroll) within the article: wide content may scroll, it is never clipped;
- the page itself is no wider than the window (nothing sticks out past its right edge);
- at 1280 px, every table shows all its columns without scrolling (a wide table is
  split or reshaped), and every block of the package's code on an article (highlighted Python:
  not printed output, which is plain text, nor a notebook's cells) shows its longest
  line whole, without scrolling: the package's lines are at most 100 characters
  (ruff), and docs/stylesheets/extra.css sizes the content column for them.

What each width found goes to `overflow-<width>.md` in the artifacts folder.
"""

from __future__ import annotations

import pytest

from site_paths import site_pages

WIDTHS = (390, 1280)
CODE_FITS_FROM = 1280  # from this window width, code blocks need no horizontal scroll

# In the page: what is cut off, how wide the page is, and which code blocks scroll.
MEASURE = """(checkCode) => {
  const article = document.querySelector("article.md-content__inner");
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.classList.length) s += "." + [...el.classList].join(".");
    return s;
  };
  const where = (el) => {
    const parts = [];
    for (let a = el; a && a !== article; a = a.parentElement) parts.unshift(name(a));
    return parts.slice(-3).join(" > ");
  };
  const text = (el) => el.textContent.replace(/\\s+/g, " ").trim().slice(0, 50);
  const cut = [];
  for (const el of article.querySelectorAll("*")) {
    if (el.scrollWidth <= el.clientWidth + 2) continue;  // sub-pixel rounding
    // KaTeX's own boxes and a figure's SVG parts: their container is what is checked
    if (el.parentElement.closest(".katex") || el.closest("svg")) continue;
    let inScroller = false;
    for (let a = el; a && a !== article.parentElement; a = a.parentElement) {
      if (scrolls(a)) { inScroller = true; break; }
    }
    if (!inScroller) {
      cut.push(`${where(el)} (${el.scrollWidth} px in ${el.clientWidth}): ${text(el)}`);
    }
  }
  const code = [];
  let lines = 0;
  if (checkCode) {
    const canvas = document.createElement("canvas").getContext("2d");
    for (const c of article.querySelectorAll(
      "div.highlight pre > code"
    )) {
      // the package's code: Python with keywords, not printed output (plain text) and
      // not a notebook's cells (the pages' executed blocks, out of the search index)
      if (c.closest("[data-search-exclude]") || !c.querySelector(".k, .kn, .kd")) continue;
      const own = c.textContent.replace(/\\n$/, "").split("\\n");
      lines += own.length;
      if (c.scrollWidth <= c.clientWidth) continue;
      const cs = getComputedStyle(c);
      canvas.font = `${cs.fontSize} ${cs.fontFamily}`;
      const ch = canvas.measureText("0".repeat(100)).width / 100;
      const room = c.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      const fits = Math.floor(room / ch + 0.01);
      const over = own.filter((line) => line.length > fits);
      code.push({
        first: own[0].trim().slice(0, 50),
        longest: Math.max(...own.map((line) => line.length)),
        fits,
        over: Math.max(over.length, 1),
      });
    }
  }
  const tables = [];
  if (checkCode) {
    for (const t of article.querySelectorAll("table")) {
      const box = t.closest(".md-typeset__scrollwrap") || t.parentElement;
      if (t.closest("svg") || t.scrollWidth <= box.clientWidth + 2) continue;
      tables.push(`${t.rows[0].cells.length} columns, ${t.scrollWidth} px in ${box.clientWidth}: ${text(t)}`);
    }
  }
  return {
    cut,
    code,
    tables,
    lines,
    pageWidth: document.documentElement.scrollWidth,
    window: innerWidth,
  };
}"""


@pytest.mark.parametrize("width", WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def test_nothing_is_cut_off_and_code_fits(browser, site_url, built_site, artifacts, width):
    """At `width`, no page clips content outside a scroll container or is wider than the
    window, and (at 1280 px) no table or code block needs a horizontal scroll."""
    check_code = width >= CODE_FITS_FROM
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme="light")
    report, failures = [], []
    code_lines = long_lines = 0
    try:
        page = context.new_page()
        for path in site_pages(built_site):
            page.goto(site_url + path)
            page.wait_for_load_state("networkidle")
            page.evaluate("document.fonts.ready.then(() => true)")
            m = page.evaluate(MEASURE, check_code)
            problems = [f"cut off: {c}" for c in m["cut"]]
            if m["pageWidth"] > m["window"]:
                problems.append(
                    f"the page is {m['pageWidth']} px wide in a {m['window']} px window"
                )
            for c in m["code"]:
                problems.append(
                    f"code scrolls: {c['over']} line(s) over {c['fits']} columns "
                    f"(longest {c['longest']}): {c['first']}"
                )
            problems += [f"table scrolls: {t}" for t in m["tables"]]
            code_lines += m["lines"]
            long_lines += sum(c["over"] for c in m["code"])
            if problems:
                failures.append(f"/{path}:\n    " + "\n    ".join(problems))
    finally:
        context.close()

    report = [f"# Overflow at {width} px", ""]
    if check_code:
        report += [f"{long_lines} of {code_lines} code lines do not fit their block.", ""]
    report += failures or ["Nothing is cut off."]
    (artifacts / f"overflow-{width}.md").write_text("\n".join(report) + "\n", encoding="utf-8")
    assert not failures, f"{len(failures)} pages at {width} px:\n" + "\n".join(failures)
