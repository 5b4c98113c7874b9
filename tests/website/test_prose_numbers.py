"""No number typed in a page's prose may repeat one that the page's own code computes.

A page states its measurements through its executed blocks (markdown-exec): a table,
a sentence printed from the measured value. A number typed by hand in the prose next
to it drifts the day the measurement changes ("trained in under three minutes" beside
a measured 268 s). This test finds such numbers on every page of the built site.

What counts as computed
    The numbers that the page's executed blocks produced: the built page's article
    (the real site, `real_site_build`) minus what the page's Markdown renders to on its
    own. The Markdown is rendered here with the site's own extensions (mkdocs.yml),
    executed blocks removed (their code kept where the page shows it,
    `source="..."`), snippets included; every number of the built article that this
    static rendering lacks (a multiset difference) came out of a block. The text
    of figures (`<svg>`: axis ticks) and of the reading-time hook
    (`<!--gu-reading-->` fragments) is left out of both.

What counts as a number typed in prose
    The static rendering's text outside code (`<pre>`, `<code>`), math (arithmatex
    spans and blocks), figures, footnote reference marks and heading permalinks. The
    front matter, link URLs, HTML attributes, code blocks and the files a page
    includes with a snippet line (benchmarks/RESULTS.md, which its scripts write)
    never reach that text. Within it, a *number* is a run of digits, with `,` thousands
    separators, an optional decimal part and an optional `%`, that is

    - not glued to a name: no letter, digit, `_` or `.` right before it, no
      `-` joining it to a word or number before it (GPT-2, d_k, W_Q, fp16, x86-64, v1.2), no letter, digit or
      `_` right after it (124M, 3x, 1e-5, 2nd);
    - a quantity: it has decimals or a `%`, or it is an integer of at least 10
      (single digits are counts such as "two heads", "step 3", and too common to
      mean anything);
    - not a year (an integer 1900 to 2030 written without a separator);
    - not structural: not right after "step", "steps", "chapter", "section",
      "figure", "table", "part", "page", "line", "lines", "question", "item" or "cell".

When a typed number matches a computed one
    Equal values (a typed decimal against a printed decimal: typed 1.00 does not
    state a printed integer 1); or one is the other rounded to the typed or printed precision
    (typed 268 and printed 268.4; typed 99.8% and printed 99.83%; typed 99.83% and
    printed 99.8%, when the printed value has decimals); or a typed percentage that
    is a printed fraction times 100 (typed 99.8% and printed 0.998).

A match fails the test unless `ALLOWED` lists the phrase it sits in, on its page, with
a reason: a true constant, a fact about the outside world that the page's code happens
to print too. Every other
match must be produced by the block (print the sentence, or the phrase, from the
measured value), so it cannot drift.
"""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import tokenize
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
import yaml
from mkdocs.utils import meta as front_matter

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _load_notebook_hook():
    """hooks/notebooks.py: the site's own reading of fenced and executed blocks."""
    spec = importlib.util.spec_from_file_location(
        "groundup_hooks_notebooks", ROOT / "hooks" / "notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hook = _load_notebook_hook()


# ------------------------------------------------------------------ the allowlist
BYTE_VALUES = "a byte has 2**8 = 256 values; byte-level BPE starts from one token for each"
GPT2_BYTES = (
    "GPT-2's byte-to-character table (bytes_to_unicode in "
    "https://github.com/openai/gpt-2/blob/master/src/encoder.py): the 32 control bytes "
    "0 to 31 and the other bytes without a visible Latin-1 character take code points "
    "from 256 on"
)
BERT_RATE = (
    "BERT's masking rate, 15% of positions (Devlin et al. 2019, "
    "https://arxiv.org/abs/1810.04805); the block measures how often mask_for_mlm "
    "chose a position"
)
EXAMPLE_IDS = "two token ids picked to make a point about ids; any two would do"
ALLOWED: dict[tuple[str, str], str] = {
    ("tokenization/bpe-step-by-step.md", "the 256 possible bytes"): BYTE_VALUES,
    ("tokenization/bpe-step-by-step.md", "(256 bytes plus one token per merge)"): BYTE_VALUES,
    ("tokenization/special-tokens.md", "256 ids for single bytes"): BYTE_VALUES,
    ("tokenization/why-tokens.md", "the 256 bytes and adds one token"): BYTE_VALUES,
    ("tokenization/tokenizers-in-practice.md", "the 256 single-byte tokens"): BYTE_VALUES,
    ("tokenization/tokenizers-in-practice.md", "each of the 256 bytes"): BYTE_VALUES,
    ("tokenization/tokenizers-in-practice.md", "256 byte ids"): BYTE_VALUES,
    ("tokenization/tokenizers-in-practice.md", "from code point 256 on"): GPT2_BYTES,
    ("tokenization/tokenizers-in-practice.md", "the 32 control bytes 0 to 31"): GPT2_BYTES,
    ("tokenization/tokenizers-in-practice.md", "code point 256 + 32"): GPT2_BYTES,
    ("tokenization/bpe-under-the-hood.md", "a 5 MB and a 20 MB stream"): (
        "the stream sizes of the memory test this sentence describes "
        "(tests/tokenizer/test_stream_memory.py), not the 20 KB slice a block prints"
    ),
    ("transformer/encoder-decoder.md", "at BERT's rate of 15%"): BERT_RATE,
    ("transformer/encoder-decoder.md", "about 15% of tokens"): BERT_RATE,
    ("transformer/encoder-decoder.md", "about 15% of positions"): BERT_RATE,
    ("tokenization/tokenizers-in-practice.md", "Python 3.11.7's files"): (
        "the CPython version the corpus snapshot was taken from, a version number "
        "(code/groundup/data/corpus.meta.json records it; the block prints it from there)"
    ),
    ("transformer/embeddings.md", "the number 266 as a number: id 266"): EXAMPLE_IDS,
    ("transformer/embeddings.md", "than id 259"): EXAMPLE_IDS,
    ("transformer/output-head-and-training.md", "behind a 64-byte"): (
        "the token file's header size, a constant of groundup.train.data's file format"
    ),
    ("transformer/residuals-and-norms.md", "(standard deviation 0.02"): (
        "GPT-2's published initialisation (normal with standard deviation 0.02, "
        "https://github.com/openai/gpt-2/blob/master/src/model.py), which the site "
        "model's init follows"
    ),
    ("transformer/huggingface.md", "blocks of 64 or 256, in SIMD lanes of 8 or 16"): (
        "how numeric libraries split a float32 sum: typical block sizes, and the lanes of "
        "a 256-bit or 512-bit vector register (8 or 16 float32s, "
        "https://en.wikipedia.org/wiki/Advanced_Vector_Extensions); the page's tensor "
        "shapes print the same integers by chance"
    ),
    ("transformer/layers-blocks-heads.md", "A 7B model with 32 layers and 32 heads"): (
        "a model card's description of Llama 2 7B (num_hidden_layers and "
        "num_attention_heads are 32 in "
        "https://huggingface.co/meta-llama/Llama-2-7b-hf/blob/main/config.json), quoted; "
        "the page's table prints that published shape"
    ),
    ("generating-text/kv-cache.md", "8 KV heads for its 64 query heads"): (
        "Llama 2 70B's published shape (Touvron et al. 2023, "
        "https://arxiv.org/abs/2307.09288, cited in the sentence); the page's table prints "
        "it from published_shapes"
    ),
    ("generating-text/kv-cache.md", "8 KV heads for 32 query heads"): (
        "Llama 3 8B's published shape (Llama Team 2024, https://arxiv.org/abs/2407.21783, "
        "cited in the sentence); the page's table prints it from published_shapes"
    ),
    ("transformer/layers-blocks-heads.md", 'a 32-layer model" has 32 blocks'): (
        "the same published Llama 2 7B depth, as an example of 'layers' meaning blocks"
    ),
}
"""(page, phrase of its prose) -> why the numbers typed in that phrase are constants of
the outside world, not something the page measures."""


def allowed(page: str, typed: Number) -> bool:
    """Whether `typed` sits in a phrase `ALLOWED` lists for `page`."""
    context = " ".join(typed.context.split())
    return any(
        where == page and phrase in context and typed.text in (n.text for n in numbers(phrase))
        for where, phrase in ALLOWED
    )


# ------------------------------------------------------------------ numbers in text
NUMBER = re.compile(
    r"(?<![\w.])(?<!\w-)"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?P<pct>[ \u202f\u00a0]?%)?"
    r"(?![\w])"
)
STRUCTURAL = {
    "step",
    "steps",
    "chapter",
    "section",
    "figure",
    "table",
    "part",
    "page",
    "line",
    "lines",
    "question",
    "item",
    "cell",
}
_WORD_BEFORE = re.compile(r"([A-Za-z]+)\s*$")


@dataclass(frozen=True)
class Number:
    """A number as written: `text`, its value, its decimals, whether it is a percentage."""

    text: str
    value: Decimal
    decimals: int
    percent: bool
    context: str = ""  # the text around it, for messages
    near: str = ""  # the 20 characters either side, spaces normalised


def numbers(text: str) -> list[Number]:
    """Every number written in `text` that is not glued to a name (see the module)."""
    found = []
    for match in NUMBER.finditer(text):
        frac = match["frac"] or ""
        digits = match["int"].replace(",", "") + (f".{frac}" if frac else "")
        found.append(
            Number(
                text=match[0],
                value=Decimal(digits),
                decimals=len(frac),
                percent=bool(match["pct"]),
                context=text[max(0, match.start() - 60) : match.end() + 60],
                near=" ".join(text[max(0, match.start() - 20) : match.end() + 20].split()),
            )
        )
    return found


def is_quantity(number: Number, before: str) -> bool:
    """A typed number worth checking: a decimal, a percentage or an integer of at
    least 10, not a year, not right after a structural word (`before`: the text in
    front of it)."""
    if not (number.decimals or number.percent or number.value >= 10):
        return False
    if not number.decimals and not number.percent and "," not in number.text:
        if 1900 <= number.value <= 2030:
            return False
    word = _WORD_BEFORE.search(before)
    return not (word and word[1].lower() in STRUCTURAL)


def typed_numbers(text: str) -> list[Number]:
    """The numbers of prose `text` that the test checks (see the module)."""
    return [
        number
        for number, match in zip(numbers(text), NUMBER.finditer(text), strict=True)
        if is_quantity(number, text[max(0, match.start() - 30) : match.start()])
    ]


def _rounded(value: Decimal, decimals: int) -> set[Decimal]:
    quantum = Decimal(1).scaleb(-decimals)
    return {value.quantize(quantum, rounding=r) for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)}


def matches(typed: Number, computed: Number) -> bool:
    """Whether `typed` states `computed` (equal, or one rounds the other; see the module)."""
    candidates = [(computed.value, computed.decimals)]
    if typed.percent and not computed.percent and 0 < computed.value <= 1:
        if computed.decimals >= 2:
            candidates.append((computed.value * 100, computed.decimals - 2))
    for value, decimals in candidates:
        if typed.value == value and (decimals or not typed.decimals):
            return True
        if typed.decimals < decimals and typed.value in _rounded(value, typed.decimals):
            return True
        if 0 < decimals < typed.decimals and value in _rounded(typed.value, decimals):
            return True
    return False


# ------------------------------------------------------------------ text of a page's HTML
_BLOCK_TAGS = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "table",
    "tr",
    "td",
    "th",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "br",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "details",
    "summary",
    "hr",
    "section",
    "article",
}
_VOID = {"br", "hr", "img", "input", "meta", "link", "source", "wbr", "col"}


class _Text(HTMLParser):
    """The text of an HTML fragment, twice: all of it but figures (`everything`) and
    the prose alone (`prose`: no code, math, figures, footnote marks, permalinks)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.everything: list[str] = []
        self.prose: list[str] = []
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, hides all, hides prose)

    def _hidden(self) -> tuple[bool, bool]:
        return any(s[1] for s in self._stack), any(s[2] for s in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if tag in _BLOCK_TAGS:
            self.everything.append("\n")
            self.prose.append("\n")
        if tag in _VOID:
            return
        hides_all = tag == "svg"
        hides_prose = (
            tag in {"pre", "code", "script", "style", "sup"}
            or "arithmatex" in classes
            or "headerlink" in classes
            or "footnote-ref" in classes
        )
        self._stack.append((tag, hides_all, hides_prose))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break
        if tag in _BLOCK_TAGS:
            self.everything.append("\n")
            self.prose.append("\n")

    def handle_data(self, data: str) -> None:
        hides_all, hides_prose = self._hidden()
        if not hides_all:
            self.everything.append(data)
            if not hides_prose:
                self.prose.append(data)


def html_text(fragment: str) -> tuple[str, str]:
    """(all text but figures, prose text) of an HTML fragment, spaces normalised
    within lines."""
    parser = _Text()
    parser.feed(fragment)
    parser.close()

    def norm(parts: list[str]) -> str:
        lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parts).split("\n"))
        return "\n".join(line for line in lines if line)

    return norm(parser.everything), norm(parser.prose)


def article(page_html: str) -> str:
    """The `<article>` of a built page, without what the reading hook adds."""
    start = page_html.find("<article")
    end = page_html.rfind("</article>")
    body = page_html[start:end] if start >= 0 and end > start else page_html
    return re.sub(r"<!--gu-reading-->.*?<!--/gu-reading-->", "", body, flags=re.S)


# ------------------------------------------------------------------ the static rendering
class _IgnoreTags(yaml.SafeLoader):
    """mkdocs.yml uses tags such as `!ENV`; only its plain structure is needed."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def site_markdown(root: Path = ROOT) -> markdown.Markdown:
    """A Markdown converter with the extensions of `root/mkdocs.yml` (snippets from
    `root`), and MkDocs' own defaults (toc, tables, fenced_code)."""
    config = yaml.load((root / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_IgnoreTags)
    names: list[str] = ["toc", "tables", "fenced_code"]
    configs: dict[str, dict] = {}
    for ext in config.get("markdown_extensions") or []:
        name, options = (ext, {}) if isinstance(ext, str) else next(iter(ext.items()))
        if name not in names:
            names.append(name)
        configs[name] = dict(options or {})
    if "pymdownx.snippets" in configs:
        configs["pymdownx.snippets"]["base_path"] = [str(root)]
    return markdown.Markdown(extensions=names, extension_configs=configs)


def without_executed_blocks(source: str) -> str:
    """The page's Markdown (front matter removed) with every executed block taken out,
    or, where the page shows the block's code (`source="..."`), turned into a plain
    code block of that code."""
    body, _ = front_matter.get_data(source)
    lines = body.splitlines()
    for info, code, first, last in reversed(list(hook.fenced_blocks(body))):
        language, options = hook.parse_info(info)
        if not hook._to_bool(options.get("exec", "no")):
            continue
        indent = re.match(r"[ \t]*", lines[first - 1])[0]  # type: ignore[index]
        shown = (
            [f"{indent}```{language}", *(indent + c for c in code.splitlines()), f"{indent}```"]
            if options.get("source")
            else [""]
        )
        lines[first - 1 : last] = shown
    return "\n".join(lines) + "\n"


def static_html(source: str, root: Path = ROOT, snippets: bool = True) -> str:
    """What the page's Markdown renders to without running any block; without the
    files it includes by snippet lines outside code blocks if not `snippets` (such a
    file is written by a script, e.g. benchmarks/RESULTS.md, not typed on the page)."""
    text = without_executed_blocks(source)
    if not snippets:
        text = without_included_files(text)
    return site_markdown(root).convert(text)


def without_included_files(text: str) -> str:
    """`text` without its snippet lines (and `--8<--` blocks) outside fenced blocks."""
    lines = text.splitlines()
    fenced = {n for _, _, a, b in hook.fenced_blocks(text) for n in range(a, b + 1)}
    kept, in_block = [], False
    for number, line in enumerate(lines, start=1):
        if number not in fenced:
            if hook._SNIPPET_BLOCK_MARK.match(line):
                in_block = not in_block
                continue
            if in_block or hook._SNIPPET_LINE.match(line):
                continue
        kept.append(line)
    return "\n".join(kept) + "\n"


# ------------------------------------------------------------------ the check
@dataclass(frozen=True)
class Finding:
    page: str
    typed: Number
    computed: Number

    def __str__(self) -> str:
        return (
            f"{self.page}: {self.typed.text!r} typed in prose "
            f"(...{self.typed.context.strip()}...) states {self.computed.text!r}, "
            f"which a block computes (...{self.computed.context.strip()}...)"
        )


def computed_numbers(built_article: str, static: str) -> list[Number]:
    """The numbers of the built article that the static rendering lacks, each as
    often as it is missing (what the page's executed blocks produced), in page order.
    Of the copies of a number, those whose surroundings the static text also has
    are matched to it first, so a block's copy is the one reported."""
    built_all, _ = html_text(built_article)
    static_all, _ = html_text(static)
    flat = " ".join(static_all.split())
    unmatched = Counter(n.text for n in numbers(static_all))
    built = numbers(built_all)
    matched = [False] * len(built)
    for own_first in (True, False):
        for i, number in enumerate(built):
            if matched[i] or (own_first and number.near not in flat):
                continue
            if unmatched[number.text] > 0:
                unmatched[number.text] -= 1
                matched[i] = True
    return [number for number, m in zip(built, matched, strict=True) if not m]


def settings(source: str) -> set[Decimal]:
    """The numeric literals in the code of `source`'s executed blocks: values the page
    chooses (a model's width, a number of samples), not values its blocks measure. A
    block that prints its own setting does not make the prose's mention of it a copy of a
    measurement; changing the setting changes what the block prints beside it."""
    body, _ = front_matter.get_data(source)
    values = set()
    for info, code, _first, _last in hook.fenced_blocks(body):
        _language, options = hook.parse_info(info)
        if not hook._to_bool(options.get("exec", "no")):
            continue
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
        except (tokenize.TokenError, SyntaxError):
            continue
        for token in tokens:
            if token.type == tokenize.NUMBER:
                try:
                    values.add(Decimal(token.string.replace("_", "")))
                except InvalidOperation:
                    continue  # 1e-5, 0x1F, 2j: not a plain decimal
    return values


def findings(page: str, source: str, built_page: str, root: Path = ROOT) -> list[Finding]:
    """Every number typed in `page`'s prose that states a number its blocks compute
    (and that is not one of the page's own settings, see `settings`)."""
    static = static_html(source, root)
    _, prose = html_text(static_html(source, root, snippets=False))
    computed = computed_numbers(article(built_page), static)
    chosen = settings(source)
    found = []
    for typed in typed_numbers(prose):
        if allowed(page, typed) or (not typed.percent and typed.value in chosen):
            continue
        for number in computed:
            if matches(typed, number):
                found.append(Finding(page, typed, number))
                break
    return found


def built_path(site: Path, page: str) -> Path:
    """The built HTML of docs/`page` (directory URLs)."""
    stem = page[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return site / (stem + ".html")
    return site / stem / "index.html"


# ------------------------------------------------------------------ the rules, on small text
@pytest.mark.parametrize(
    "text,expected",
    [
        ("trained in 268 s", ["268"]),
        ("a vocabulary of 50,257 tokens", ["50,257"]),
        ("99.8% of the points, or 0.5 of them, and 12 %", ["99.8%", "0.5", "12 %"]),
        ("a 64-dimensional vector", ["64"]),
        ("GPT-2 and x86-64, d_k, W_Q2, fp16, v1.25, 124M, 3x, 1e-5, 2nd", []),
        ("two heads, 3 layers, 9 steps", []),
        ("in 2017 and in 2024, but 1,999 and 2048 tokens", ["1,999", "2048"]),
        ("step 12, Chapter 10, table 11, lines 30 to 40", ["40"]),
    ],
    ids=[
        "integer",
        "separators",
        "decimals-percent",
        "hyphen-word",
        "names",
        "small",
        "years",
        "structural",
    ],
)
def test_typed_numbers_rules(text, expected):
    assert [n.text for n in typed_numbers(text)] == expected


def _n(text: str) -> Number:
    (number,) = numbers(text)
    return number


@pytest.mark.parametrize(
    "typed,computed,expected",
    [
        ("268", "268", True),
        ("268", "268.4", True),
        ("268", "267.4", False),
        ("99.8%", "99.83%", True),
        ("99.83%", "99.8%", True),
        ("100%", "99.8%", True),  # "100% on points it never saw" beside a printed 99.8%
        ("100%", "99.4%", False),
        ("99.8%", "0.998", True),
        ("99.8%", "0.997", False),
        ("3.14", "3", False),  # the printed integer has no decimals to round to
        ("50,257", "50257", True),
        ("12", "120", False),
    ],
)
def test_matches(typed, computed, expected):
    assert matches(_n(typed), _n(computed)) is expected


def test_html_text_separates_prose_from_code_math_and_figures():
    fragment = (
        '<h2 id="a">Sizes 11 <a class="headerlink" href="#a">12</a></h2>'
        "<p>We saw 13 cases <sup id='fnref:1'><a class='footnote-ref'>14</a></sup>, "
        '<code>15</code> and <span class="arithmatex">\\(16\\)</span>.</p>'
        "<pre><code>17</code></pre><svg><text>18</text></svg><p>19</p>"
    )
    everything, prose = html_text(fragment)
    assert [n.text for n in numbers(prose)] == ["11", "13", "19"]
    assert [n.text for n in numbers(everything)] == ["11", "12", "13", "14", "15", "16", "17", "19"]


def test_static_rendering_drops_executed_output_but_keeps_shown_code():
    source = (
        "---\ntitle: x 77\n---\n# Page\n\nText with 11.\n\n"
        '```python exec="on"\nprint(12 * 100)\n```\n\n'
        '```python exec="on" source="above" result="text"\nprint(13 * 100)\n```\n\n'
        "[a link](https://example.com/99)\n"
    )
    everything, prose = html_text(static_html(source))
    assert [n.text for n in numbers(prose)] == ["11"]
    assert [n.text for n in numbers(everything)] == ["11", "13", "100"]


# ------------------------------------------------------------------ the check, on a small page
SMALL_PAGE = (
    "# Page\n\nThe run took 268 s, and 10 threads ran.\n\n"
    '```python exec="on"\nprint(f"Measured: {267.6:.1f} s on {10} threads.")\n```\n'
)
SMALL_BUILT = (
    "<html><body><article><!--gu-reading--><p>1 min read, 268</p><!--/gu-reading-->"
    "<h1>Page</h1><p>The run took 268 s, and 10 threads ran.</p>"
    "<p>Measured: 267.6 s on 10 threads.</p></article></body></html>"
)


def test_a_typed_measurement_is_found():
    found = findings("small.md", SMALL_PAGE, SMALL_BUILT)
    assert [(f.typed.text, f.computed.text) for f in found] == [("268", "267.6"), ("10", "10")]
    assert "small.md: '268' typed in prose" in str(found[0])


def test_a_generated_phrase_is_not_found():
    page = SMALL_PAGE.replace("The run took 268 s, and 10 threads ran.", "The run is below.")
    built = SMALL_BUILT.replace("The run took 268 s, and 10 threads ran.", "The run is below.")
    assert findings("small.md", page, built) == []


def test_an_allowed_phrase_is_not_found(monkeypatch):
    monkeypatch.setitem(ALLOWED, ("small.md", "and 10 threads ran"), "a test's constant")
    found = findings("small.md", SMALL_PAGE, SMALL_BUILT)
    assert [f.typed.text for f in found] == ["268"]  # the phrase allows its own number only
    monkeypatch.setitem(ALLOWED, ("other.md", "took 268 s"), "another page's phrase")
    assert [f.typed.text for f in findings("small.md", SMALL_PAGE, SMALL_BUILT)] == ["268"]


def test_a_small_site_built_with_markdown_exec(tmp_path):
    """End to end: markdown-exec's real output, found by the static rendering."""
    import os
    import subprocess

    config = {
        "site_name": "Prose numbers",
        "plugins": ["markdown-exec"],
        "markdown_extensions": ["pymdownx.superfences", "tables"],
    }
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "docs").mkdir()
    page = (
        "# Page\n\nAccuracy was 99.8% on 1,500 points.\n\n"
        '```python exec="on"\npoints = [1] * 1497 + [0] * 3\nacc = sum(points) / len(points)\n'
        'print(f"| points | accuracy |\\n|---|---|\\n| {len(points):,} | {acc:.2%} |")\n```\n\n'
        '```python exec="on" result="text"\nprint(round(2 / 3, 3))\n```\n\n'
        "Two thirds is about 0.67.\n"
    )
    (tmp_path / "docs" / "index.md").write_text(page, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "out")],
        cwd=tmp_path,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    found = findings("index.md", page, built, root=tmp_path)
    assert [(f.typed.text, f.computed.text) for f in found] == [
        ("99.8%", "99.80%"),
        ("1,500", "1,500"),
        ("0.67", "0.667"),
    ]


# ------------------------------------------------------------------ the real site
def _built_pages(site: Path) -> list[tuple[str, str, str]]:
    """(page, Markdown source, built HTML) of every docs page the site built."""
    pages = []
    for source in sorted(DOCS.rglob("*.md")):
        page = source.relative_to(DOCS).as_posix()
        built = built_path(site, page)
        assert built.is_file(), f"{page} was not built"
        pages.append((page, source.read_text(encoding="utf-8"), built.read_text("utf-8")))
    return pages


@pytest.fixture(scope="module")
def real_pages(real_site_build) -> list[tuple[str, str, str]]:
    site, result = real_site_build
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return _built_pages(site)


def test_no_page_types_a_number_its_blocks_compute(real_pages):
    found = [str(f) for page, source, built in real_pages for f in findings(page, source, built)]
    assert found == [], "\n".join(found)


def test_every_allowed_phrase_is_still_typed_and_computed(real_pages):
    """No stale entry: each allowed phrase is in its page's prose, and a number of it
    matches one that the page computes."""
    by_page = {page: (source, built) for page, source, built in real_pages}
    stale = []
    for (page, phrase), reason in ALLOWED.items():
        assert reason.strip(), (page, phrase)
        source, built = by_page[page]
        static = static_html(source)
        prose = html_text(static_html(source, snippets=False))[1]
        typed = [n for n in typed_numbers(prose) if phrase in " ".join(n.context.split())]
        computed = computed_numbers(article(built), static)
        if not any(matches(t, c) for t in typed for c in computed):
            stale.append((page, phrase))
    assert stale == []


def test_the_check_fails_when_a_computed_number_is_typed_on_a_real_page(real_pages):
    """The deliberate breakage, on every page that computes a number: type one of its
    computed numbers into a new paragraph of the page (its Markdown and its built
    HTML alike), and the check must name it."""
    tried = 0
    for page, source, built in real_pages:
        static = static_html(source)
        chosen = settings(source)
        computed = [
            c
            for c in computed_numbers(article(built), static)
            if typed_numbers(c.text) and (c.percent or c.value not in chosen)
        ]  # a measured number, not one of the page's settings
        if not computed:
            continue
        number = computed[len(computed) // 2]
        sentence = f"We measured {number.text} here."
        end = built.rfind("</article>")
        broken = built[:end] + f"<p>{sentence}</p>" + built[end:]
        found = findings(page, source + f"\n\n{sentence}\n", broken)
        assert [f.typed.text for f in found if sentence in f.typed.context] == [number.text], page
        tried += 1
    assert tried >= 15
