"""Reading time, reading progress and the home page's learning path (an MkDocs hook).

What is an article
    A page inside a chapter, a top-level section of `nav`, that is not the chapter's
    index page, not a quiz (front matter `quiz:`) and not a notebook (`.ipynb`). The
    home page and top-level pages such as `benchmarks.md` are not articles.

Reading time
    Computed at build time from the page's *rendered* HTML (`page.content` after every
    page is rendered, so what executed blocks printed or drew counts), by
    `reading_stats`, which sorts what a reader meets into three kinds:

    - words of prose, headings, lists, tables and inline code (`\\w+` runs, joined by
      `'`, `’`, `.` or `-`, counted across inline tags), read at
      `WORDS_PER_MINUTE` = 220; an inline formula counts as one word;
    - code lines: each non-blank line of a `<pre>` block (code and executed text
      output alike), `SECONDS_PER_CODE_LINE` = 4 s each;
    - figures: each `<svg>` (a plot drawn at build time), `<img>` and display
      formula, `SECONDS_PER_FIGURE` = 12 s each. Text inside a figure (tick labels)
      is not counted as words.

    `minutes = max(1, round_half_up((words * 60 / 220 + code_lines * 4 + figures * 12) / 60))`

    The time is never below one minute and never falls when text is added.

What the hook adds to the built pages (in `on_post_page`, so the search index keeps
only the authors' text), each fragment between `<!--gu-reading-->` and
`<!--/gu-reading-->` comments:

- every article: "N min read" and its chapter under the title; at the end, the
  "Mark as read" toggle (`<button aria-pressed>`) beside the chapter's "N of M read";
- every chapter index: a summary (articles, total time, progress) under the title, and
  each link of its article list (an `<li>` that starts with the link) followed by the
  article's reading time; a strict build fails if an article is missing from the list;
- the home page: the learning path, in place of `<!-- gu:learning-path -->`, from the
  nav, each chapter index's front matter `description:`, and the home page's front
  matter `coming:` (chapters not written yet, listed as coming);
- on each of those pages, the site's structure as JSON in the `data-gu-structure`
  attribute of `<div id="gu-reading-data" hidden>` (not a `<script>`: Material's
  instant navigation re-creates inline scripts without their `type`): the page's URL,
  its `base` (relative path to the site root) and the chapters with their articles'
  URLs (relative to the root), titles and minutes.
  `docs/javascripts/progress.js` reads it on every page load, instant navigation
  included, and keeps what was read in `localStorage`.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from mkdocs.plugins import get_plugin_logger
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

log = get_plugin_logger("reading")

WORDS_PER_MINUTE = 220
SECONDS_PER_CODE_LINE = 4
SECONDS_PER_FIGURE = 12

PATH_MARKER = "<!-- gu:learning-path -->"
START, END = "<!--gu-reading-->", "<!--/gu-reading-->"
DATA_ID = "gu-reading-data"
LIVE = ' aria-live="polite"'

# ------------------------------------------------------------------ reading time

_WORD = re.compile(r"\w+(?:['’.\-]\w+)*")
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
}
_BLOCK = {
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
}
_SKIP = {"script", "style", "template", "noscript", "button", "math"}


@dataclass(frozen=True)
class ReadingStats:
    """What a reader meets on a page: prose words, code lines, figures."""

    words: int = 0
    code_lines: int = 0
    figures: int = 0

    @property
    def seconds(self) -> float:
        return (
            self.words * 60 / WORDS_PER_MINUTE
            + self.code_lines * SECONDS_PER_CODE_LINE
            + self.figures * SECONDS_PER_FIGURE
        )

    @property
    def minutes(self) -> int:
        """Whole minutes, rounded half up, at least 1."""
        return max(1, math.floor(self.seconds / 60 + 0.5))


class _Counter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = []  # (tag, mode): "", "skip", "pre"
        self.prose: list[str] = []
        self.pre: list[str] = []
        self.code_lines = 0
        self.figures = 0

    @property
    def mode(self) -> str:
        return self.stack[-1][1] if self.stack else ""

    def _figure(self) -> None:
        if self.mode != "skip":
            self.figures += 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "img":
                self._figure()
            elif tag in _BLOCK and self.mode == "":
                self.prose.append(" ")
            return
        classes = (dict(attrs).get("class") or "").split()
        mode = self.mode
        if mode == "skip":
            pass
        elif tag == "svg":
            self.figures += 1
            mode = "skip"
        elif "arithmatex" in classes:
            if tag == "span":
                self.prose.append(" x ")  # an inline formula reads as one word
            else:
                self.figures += 1  # a display formula is looked at like a figure
            mode = "skip"
        elif tag in _SKIP or "linenos" in classes:
            mode = "skip"
        elif tag == "pre" and mode == "":
            mode = "pre"
            self.pre = []
        if tag in _BLOCK and mode == "":
            self.prose.append(" ")
        self.stack.append((tag, mode))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self._figure()
        elif tag in _BLOCK and self.mode == "":
            self.prose.append(" ")

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                break
        else:
            return  # a stray end tag
        closing = self.stack[i:]
        del self.stack[i:]
        if any(m == "pre" for _, m in closing) and self.mode != "pre":
            self.code_lines += sum(1 for line in "".join(self.pre).splitlines() if line.strip())
            self.pre = []
        if tag in _BLOCK and self.mode == "":
            self.prose.append(" ")

    def handle_data(self, data: str) -> None:
        mode = self.mode
        if mode == "pre":
            self.pre.append(data)
        elif mode == "":
            self.prose.append(data)


def reading_stats(fragment: str) -> ReadingStats:
    """Count the words, code lines and figures of an HTML fragment (see the module doc)."""
    counter = _Counter()
    counter.feed(fragment)
    counter.close()
    if counter.pre:  # an unclosed <pre>
        counter.code_lines += sum(1 for line in "".join(counter.pre).splitlines() if line.strip())
    words = len(_WORD.findall("".join(counter.prose)))
    return ReadingStats(words=words, code_lines=counter.code_lines, figures=counter.figures)


def reading_minutes(fragment: str) -> int:
    """Reading time of an HTML fragment in whole minutes (at least 1)."""
    return reading_stats(fragment).minutes


def format_minutes(minutes: int) -> str:
    """`45 min`, `1 h`, `2 h 5 min`."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def strip_injected(fragment: str) -> str:
    """The fragment without what this hook added (for tests and re-counting)."""
    return re.sub(re.escape(START) + ".*?" + re.escape(END), "", fragment, flags=re.DOTALL)


def article_html(output: str) -> str:
    """The inner HTML of a built page's `<article>` (Material's content column)."""
    start = output.find("<article")
    start = output.find(">", start) + 1
    return output[start : output.rfind("</article>")]


# ------------------------------------------------------------------ site structure


@dataclass
class Article:
    page: Page
    title: str
    url: str
    stats: ReadingStats

    @property
    def minutes(self) -> int:
        return self.stats.minutes


@dataclass
class Chapter:
    key: str
    title: str
    index: Page | None
    description: str
    articles: list[Article] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.index.url if self.index else (self.articles[0].url if self.articles else "")

    @property
    def minutes(self) -> int:
        return sum(a.minutes for a in self.articles)


_state: dict[str, Any] = {"nav": None, "chapters": [], "articles": {}, "indexes": {}}


def _pages(item: Any) -> list[Page]:
    if isinstance(item, Page):
        return [item]
    if isinstance(item, Section):
        return [p for child in item.children for p in _pages(child)]
    return []  # a Link


def is_article_page(page: Page, chapter_index: Page | None) -> bool:
    if page is chapter_index:
        return False
    if page.file.src_uri.endswith(".ipynb"):
        return False
    return "quiz" not in (page.meta or {})


def build_structure(nav: Navigation) -> list[Chapter]:
    chapters = []
    for section in nav.items:
        if not isinstance(section, Section):
            continue
        index = next((c for c in section.children if isinstance(c, Page) and c.is_index), None)
        meta = (index.meta if index else None) or {}
        key = index.url if index else "section:" + section.title
        chapter = Chapter(
            key=key,
            title=section.title,
            index=index,
            description=str(meta.get("description", "")).strip(),
        )
        for page in _pages(section):
            if not is_article_page(page, index):
                continue
            stats = reading_stats(page.content or "")
            chapter.articles.append(Article(page, page.title or page.url, page.url, stats))
        chapters.append(chapter)
    return chapters


def on_nav(nav: Navigation, config: Any, files: Any) -> Navigation:
    _state["nav"] = nav
    return nav


def on_env(env: Any, config: Any, files: Any) -> Any:
    """Every page is rendered by now: measure the articles, map the chapters."""
    nav = _state["nav"]
    chapters = build_structure(nav) if nav is not None else []
    _state["chapters"] = chapters
    _state["articles"] = {a.url: (c, a) for c in chapters for a in c.articles}
    _state["indexes"] = {c.index.url: c for c in chapters if c.index is not None}
    for c in chapters:
        log.debug(
            "%s: %d articles, %d min (%s)",
            c.title,
            len(c.articles),
            c.minutes,
            ", ".join(f"{a.url} {a.minutes}" for a in c.articles),
        )
    return env


# ------------------------------------------------------------------ HTML


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _rel(url: str, page: Page) -> str:
    """`url` (relative to the site root) relative to `page`'s URL."""
    rel = get_relative_url(url, page.url)
    if rel == ".":
        return "./"
    return rel + "/" if (url.endswith("/") or not url) and not rel.endswith("/") else rel


def _base(page: Page) -> str:
    """The relative path from `page` to the site root, ending in `/`."""
    return _rel("", page)


def _data(page: Page) -> str:
    data = {
        "page": page.url,
        "base": _base(page),
        "chapters": [
            {
                "key": c.key,
                "title": c.title,
                "url": c.url,
                "minutes": c.minutes,
                "articles": [
                    {"url": a.url, "title": a.title, "minutes": a.minutes} for a in c.articles
                ],
            }
            for c in _state["chapters"]
        ],
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # An attribute, not a <script type="application/json">: Material's instant
    # navigation re-creates every inline <script> of the new page without its
    # attributes, which would run the JSON as JavaScript.
    return f'<div id="{DATA_ID}" hidden data-gu-structure="{_e(text)}"></div>'


def _bar(key: str) -> str:
    return (
        f'<span class="gu-bar" aria-hidden="true" data-gu-js hidden>'
        f'<span class="gu-bar__fill" data-gu-bar="{_e(key)}"></span></span>'
    )


def _count(key: str, total: int, extra: str = "") -> str:
    return (
        f'<span class="gu-count" data-gu-count="{_e(key)}" data-gu-js hidden{extra}>'
        f"0 of {total} read</span>"
    )


def _articles_word(n: int) -> str:
    return f"{n} article" + ("" if n == 1 else "s")


def article_header(chapter: Chapter, article: Article, page: Page) -> str:
    position = chapter.articles.index(article) + 1
    chapter_link = (
        f'<a href="{_e(_rel(chapter.url, page))}">{_e(chapter.title)}</a>'
        if chapter.index
        else _e(chapter.title)
    )
    return (
        f'{START}<p class="gu-meta">'
        f'<span class="gu-time" data-gu-minutes="{article.minutes}">'
        f'<span class="gu-icon gu-icon--clock" aria-hidden="true"></span>'
        f"{article.minutes} min read</span>"
        f'<span class="gu-meta__sep" aria-hidden="true">·</span>'
        f'<span class="gu-meta__where">{chapter_link}, article {position} of '
        f"{len(chapter.articles)}</span>"
        f'<span class="gu-readmark" data-gu-article="{_e(article.url)}" data-gu-js hidden>'
        f'<span class="gu-meta__sep" aria-hidden="true">·</span>read</span>'
        f"</p>{END}"
    )


def article_footer(chapter: Chapter, article: Article, page: Page) -> str:
    count_id = "gu-count-" + re.sub(r"[^a-z0-9]+", "-", chapter.key.lower()).strip("-")
    return (
        f'{START}<div class="gu-panel" data-gu-js hidden>'
        f'<button type="button" class="md-button gu-toggle" aria-pressed="false" '
        f'data-gu-toggle="{_e(article.url)}" aria-describedby="{count_id}">'
        f'<span class="gu-toggle__box" aria-hidden="true"></span>Mark as read</button>'
        f'<span class="gu-panel__progress" id="{count_id}">'
        f'<span class="gu-panel__chapter">{_e(chapter.title)}:</span> '
        f"{_count(chapter.key, len(chapter.articles), LIVE)}"
        f"{_bar(chapter.key)}</span>"
        f"</div>{_data(page)}{END}"
    )


def chapter_summary(chapter: Chapter) -> str:
    n = len(chapter.articles)
    return (
        f'{START}<div class="gu-summary">'
        f'<span class="gu-summary__facts">'
        f'<span data-gu-articles="{n}">{_articles_word(n)}</span>'
        f'<span class="gu-meta__sep" aria-hidden="true">·</span>'
        f'<span class="gu-time" data-gu-total="{chapter.minutes}">'
        f'<span class="gu-icon gu-icon--clock" aria-hidden="true"></span>'
        f"{format_minutes(chapter.minutes)} of reading</span></span>"
        f'<span class="gu-summary__progress" data-gu-js hidden>Your progress: '
        f"{_count(chapter.key, n)}{_bar(chapter.key)}</span></div>{END}"
    )


def _chip(article: Article) -> str:
    return (
        f'{START}<span class="gu-chip" data-gu-article="{_e(article.url)}" '
        f'data-gu-minutes="{article.minutes}">'
        f'<span class="gu-chip__check" aria-hidden="true"></span>'
        f'<span class="gu-chip__read" data-gu-read-label>read, </span>'
        f"{article.minutes} min</span>{END}"
    )


def decorate_chapter_index(output: str, chapter: Chapter, page: Page) -> str:
    for article in chapter.articles:
        href = re.escape(_e(_rel(article.url, page)))
        pattern = re.compile(
            r'(<li>\s*(?:<p>\s*)?<a href="(?:\./)?' + href + r'"[^>]*>.*?</a>)', flags=re.DOTALL
        )
        chip = _chip(article)

        def add_chip(m: re.Match[str], chip: str = chip) -> str:
            return m.group(1) + chip

        output, found = pattern.subn(add_chip, output, count=1)
        if not found:
            log.warning(
                "%s does not list the article %s (a list item that starts with a link to it)",
                page.file.src_uri,
                article.page.file.src_uri,
            )
    return output


def learning_path(page: Page) -> str:
    chapters = _state["chapters"]
    total = sum(len(c.articles) for c in chapters)
    minutes = sum(c.minutes for c in chapters)
    steps = []
    for number, chapter in enumerate(chapters, 1):
        n = len(chapter.articles)
        items = "".join(
            f'<li data-gu-article="{_e(a.url)}"><a href="{_e(_rel(a.url, page))}">{_e(a.title)}</a>'
            f'<span class="gu-chip" data-gu-minutes="{a.minutes}">'
            f'<span class="gu-chip__check" aria-hidden="true"></span>'
            f'<span class="gu-chip__read" data-gu-read-label>read, </span>{a.minutes} min</span></li>'
            for a in chapter.articles
        )
        first = chapter.articles[0] if chapter.articles else None
        start = (
            f'<a class="md-button gu-next" data-gu-next="{_e(chapter.key)}" '
            f'href="{_e(_rel(first.url, page))}">Start with {_e(first.title)}</a>'
            if first
            else ""
        )
        steps.append(
            f'<li class="gu-step" data-gu-chapter="{_e(chapter.key)}">'
            f'<span class="gu-step__marker" aria-hidden="true">{number}</span>'
            f'<div class="gu-step__card">'
            f'<h3 class="gu-step__title"><a href="{_e(_rel(chapter.url, page))}">'
            f"{_e(chapter.title)}</a></h3>"
            + (
                f'<p class="gu-step__desc">{_e(chapter.description)}</p>'
                if chapter.description
                else ""
            )
            + f'<p class="gu-step__facts"><span data-gu-articles="{n}">{_articles_word(n)}</span>'
            f'<span class="gu-meta__sep" aria-hidden="true">·</span>'
            f'<span class="gu-time" data-gu-total="{chapter.minutes}">'
            f'<span class="gu-icon gu-icon--clock" aria-hidden="true"></span>'
            f"{format_minutes(chapter.minutes)}</span></p>"
            f'<div class="gu-step__progress">{_count(chapter.key, n)}{_bar(chapter.key)}</div>'
            f'<details class="gu-step__articles"><summary>The {_articles_word(n)}</summary>'
            f"<ol>{items}</ol></details>"
            f"{start}</div></li>"
        )
    for offset, item in enumerate((page.meta or {}).get("coming") or [], len(chapters) + 1):
        item = item if isinstance(item, dict) else {"title": str(item)}
        desc = item.get("description")
        steps.append(
            f'<li class="gu-step gu-step--coming">'
            f'<span class="gu-step__marker" aria-hidden="true">{offset}</span>'
            f'<div class="gu-step__card">'
            f'<h3 class="gu-step__title">{_e(str(item.get("title", "")))}'
            f'<span class="gu-badge">coming</span></h3>'
            + (f'<p class="gu-step__desc">{_e(str(desc))}</p>' if desc else "")
            + "</div></li>"
        )
    return (
        f'{START}<div class="gu-map">'
        f'<div class="gu-map__summary">'
        f'<p class="gu-map__facts"><strong>{len(chapters)} chapters</strong>, '
        f'<span data-gu-articles="{total}">{_articles_word(total)}</span>, '
        f'<span class="gu-time" data-gu-total="{minutes}">'
        f'<span class="gu-icon gu-icon--clock" aria-hidden="true"></span>'
        f"{format_minutes(minutes)} of reading</span></p>"
        f'<p class="gu-map__progress" data-gu-js hidden>Your progress: '
        f"{_count('*', total)}{_bar('*')}</p>"
        f"</div>"
        f'<ol class="gu-path">{"".join(steps)}</ol>'
        f"{_data(page)}</div>{END}"
    )


def _after_h1(output: str, fragment: str) -> str:
    start = output.find("<article")
    end = output.find("</h1>", start)
    if start < 0:
        return output
    if end < 0:
        at = output.find(">", start) + 1
    else:
        at = end + len("</h1>")
    return output[:at] + fragment + output[at:]


def _before_article_end(output: str, fragment: str) -> str:
    at = output.rfind("</article>")
    return output if at < 0 else output[:at] + fragment + output[at:]


def on_post_page(output: str, page: Page, config: Any) -> str:
    found = _state["articles"].get(page.url)
    if found and found[1].page is page:
        chapter, article = found
        output = _after_h1(output, article_header(chapter, article, page))
        return _before_article_end(output, article_footer(chapter, article, page))
    chapter = _state["indexes"].get(page.url)
    if chapter is not None and chapter.index is page:
        output = decorate_chapter_index(output, chapter, page)
        output = _after_h1(output, chapter_summary(chapter))
        return _before_article_end(output, START + _data(page) + END)
    if page.is_homepage:
        if PATH_MARKER not in output:
            log.warning("the home page has no %s marker for the learning path", PATH_MARKER)
            return output
        return output.replace(PATH_MARKER, learning_path(page), 1)
    return output
