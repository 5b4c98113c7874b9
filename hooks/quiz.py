"""Chapter quizzes: multiple-choice questions written in YAML next to a chapter,
validated at build time and rendered into the page that asks for them.

A page opts in with front matter naming the quiz file, relative to the page:

    ---
    quiz: quiz.yml
    ---

The file holds one mapping with a list of questions. Every answer says whether it
is right and explains why (the explanation is shown when the reader picks it):

    questions:
      - question: Why does byte-level BPE never need an unknown token?
        answers:
          - text: All 256 byte values are in its vocabulary.
            correct: true
            explanation: Any text falls back to single bytes; see [Why models need
              tokens](why-tokens.md).
          - text: Its vocabulary is larger than a word vocabulary.
            correct: false
            explanation: Size is not the reason ...

Texts are Markdown, rendered by the page's own Markdown (`md_in_html`), so code
spans, `$math$` and relative links to other pages work, and `mkdocs build --strict`
checks those links like any other. A malformed quiz fails the build, strict or
not, with the file and line: `docs/tokenization/quiz.yml:37: question 5 has no
correct answer`.

The HTML is a `<fieldset>` per question with a `<legend>`, native radio inputs with
`<label>`s, the explanations (hidden, out of the search index) and an empty
`aria-live` region that `docs/javascripts/quiz.js` fills with the verdict and the
chosen answer's explanation. Styles: `docs/stylesheets/quiz.css`.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml
from mkdocs.exceptions import PluginError

STR_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
BOOL_TAG = "tag:yaml.org,2002:bool"
QUIZ_KEYS = ("questions",)
QUESTION_KEYS = ("question", "answers")
ANSWER_KEYS = ("text", "correct", "explanation")


class QuizError(PluginError):
    """A malformed quiz; the message starts with `file:line:`."""


@dataclass(frozen=True)
class Answer:
    text: str
    correct: bool
    explanation: str
    line: int


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[Answer, ...]
    line: int


@dataclass(frozen=True)
class Quiz:
    source: str  # the file, as named in error messages
    questions: tuple[Question, ...]


# ------------------------------------------------------------------ validation
class _Checker:
    """Walks the YAML node tree (which keeps line numbers) and builds a Quiz."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: yaml.Node | yaml.Mark | None, message: str) -> QuizError:
        mark = node.start_mark if isinstance(node, yaml.Node) else node
        line = mark.line + 1 if mark is not None else 1
        return QuizError(f"{self.source}:{line}: {message}")

    def mapping(
        self, node: yaml.Node, what: str, allowed: tuple[str, ...], required: tuple[str, ...]
    ) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            expected = ", ".join(f"'{k}'" for k in allowed)
            raise self.fail(node, f"{what} must be a mapping with the keys {expected}")
        found: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name not in allowed:
                expected = ", ".join(f"'{k}'" for k in allowed)
                shown = f"'{name}'" if name is not None else "a non-text key"
                raise self.fail(key, f"unknown key {shown} in {what} (expected {expected})")
            if name in found:
                raise self.fail(key, f"duplicate key '{name}' in {what}")
            found[name] = value
        for name in required:
            if name not in found:
                raise self.fail(node, f"{what} has no '{name}'")
        return found

    def text(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in STR_TAGS:
            raise self.fail(node, f"{what} must be text")
        value = textwrap.dedent(node.value).strip()
        if not value:
            raise self.fail(node, f"{what} is empty")
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != BOOL_TAG:
            shown = f" (got '{node.value}')" if isinstance(node, yaml.ScalarNode) else ""
            raise self.fail(node, f"{what} must be true or false{shown}")
        return bool(yaml.constructor.SafeConstructor.bool_values[node.value.lower()])

    def quiz(self, root: yaml.Node | None) -> Quiz:
        if root is None:
            raise self.fail(None, "the quiz is empty (expected a mapping with a 'questions' list)")
        top = self.mapping(root, "the quiz", QUIZ_KEYS, QUIZ_KEYS)
        items = top["questions"]
        if not isinstance(items, yaml.SequenceNode):
            raise self.fail(items, "'questions' must be a list")
        if not items.value:
            raise self.fail(items, "the quiz has no questions")
        questions = [self.question(node, n) for n, node in enumerate(items.value, start=1)]
        seen: dict[str, int] = {}
        for n, q in enumerate(questions, start=1):
            key = _normal(q.text)
            if key in seen:
                raise self.fail(items.value[n - 1], f"question {n} repeats question {seen[key]}")
            seen[key] = n
        return Quiz(self.source, tuple(questions))

    def question(self, node: yaml.Node, n: int) -> Question:
        what = f"question {n}"
        fields = self.mapping(node, what, QUESTION_KEYS, QUESTION_KEYS)
        text = self.text(fields["question"], f"the text of {what}")
        items = fields["answers"]
        if not isinstance(items, yaml.SequenceNode):
            raise self.fail(items, f"the answers of {what} must be a list")
        if len(items.value) < 2:
            count = f"{len(items.value)} answer{'' if len(items.value) == 1 else 's'}"
            raise self.fail(
                items if items.value else fields["answers"],
                f"{what} has {count}; it needs at least 2",
            )
        answers = [self.answer(a, k, what) for k, a in enumerate(items.value, start=1)]
        seen: dict[str, int] = {}
        for k, a in enumerate(answers, start=1):
            key = _normal(a.text)
            if key in seen:
                raise self.fail(
                    items.value[k - 1], f"answer {k} of {what} repeats answer {seen[key]}"
                )
            seen[key] = k
        if not any(a.correct for a in answers):
            raise self.fail(node, f"{what} has no correct answer")
        if all(a.correct for a in answers):
            raise self.fail(node, f"{what} has no wrong answer")
        return Question(text, tuple(answers), node.start_mark.line + 1)

    def answer(self, node: yaml.Node, k: int, question: str) -> Answer:
        what = f"answer {k} of {question}"
        fields = self.mapping(node, what, ANSWER_KEYS, ANSWER_KEYS)
        return Answer(
            text=self.text(fields["text"], f"the text of {what}"),
            correct=self.boolean(fields["correct"], f"'correct' of {what}"),
            explanation=self.text(fields["explanation"], f"the explanation of {what}"),
            line=node.start_mark.line + 1,
        )


def _normal(text: str) -> str:
    """What makes two texts "the same": case and spacing do not count."""
    return " ".join(text.split()).casefold()


def parse_quiz(text: str, source: str) -> Quiz:
    """The quiz in `text`; `source` names the file in error messages."""
    checker = _Checker(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = ", ".join(part for part in (e.context, e.problem) if part) or "not valid YAML"
        raise checker.fail(mark, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise checker.fail(None, f"invalid YAML: {e}") from None
    return checker.quiz(root)


def load_quiz(path: Path | str, source: str | None = None) -> Quiz:
    """Read and validate the quiz file at `path` (named `source` in errors)."""
    path = Path(path)
    source = source or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise QuizError(f"{source}: cannot read the quiz: {e.strerror or e}") from None
    return parse_quiz(text, source)


# ------------------------------------------------------------------ rendering
def _inline(text: str) -> str:
    """One line of inline Markdown: newlines inside an HTML block must not split it."""
    return " ".join(text.split())


def render_quiz(quiz: Quiz, prefix: str = "quiz") -> str:
    """The quiz as HTML with `markdown` attributes, for a page with `md_in_html`."""
    total = len(quiz.questions)
    nojs = (
        "Checking an answer needs JavaScript, which is turned off: "
        "the questions are below, the answers are not."
    )
    out = [
        f'<div class="gu-quiz" data-quiz-total="{total}" markdown="1">',
        f'<noscript><p class="gu-quiz__nojs">{nojs}</p></noscript>',
    ]
    for n, question in enumerate(quiz.questions, start=1):
        qid = f"{prefix}-q{n}"
        number = f'<span class="gu-quiz__number">Question {n} of {total}.</span>'
        out.append(f'<fieldset class="gu-quiz__question" id="{qid}" markdown="1">')
        out.append(f'<legend markdown="span">{number} {_inline(question.text)}</legend>')
        out.append('<div class="gu-quiz__answers" markdown="1">')
        for k, answer in enumerate(question.answers, start=1):
            aid = f"{qid}-a{k}"
            correct = "true" if answer.correct else "false"
            radio = (
                f'<input type="radio" name="{qid}" id="{aid}" value="{k}" data-correct="{correct}">'
            )
            label = f'<label for="{aid}">{_inline(answer.text)}</label>'
            out.append(f'<div class="gu-quiz__answer" markdown="span">{radio} {label}</div>')
        out.append("</div>")
        # Hidden until chosen, and kept out of the search index, which would give the
        # answers away. Not a <div>: Material's search parser matches end tags by name,
        # so the first </div> inside would end the exclusion.
        out.append('<aside class="gu-quiz__explanations" hidden data-search-exclude markdown="1">')
        for k, answer in enumerate(question.answers, start=1):
            out.append(f'<div class="gu-quiz__explanation" data-answer="{qid}-a{k}" markdown="1">')
            out += ["", answer.explanation, "", "</div>"]
        out.append("</aside>")
        live = 'aria-live="polite" aria-atomic="true"'
        out.append(f'<div class="gu-quiz__feedback" id="{qid}-feedback" {live}></div>')
        out.append("</fieldset>")
    out.append("</div>")
    return "\n".join(out)


# ------------------------------------------------------------------ MkDocs events
def _display(path: Path, config) -> str:
    """`path` relative to the directory of mkdocs.yml, as errors name it."""
    base = Path(config.config_file_path or ".").resolve().parent
    try:
        return Path(os.path.relpath(path.resolve(), base)).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


def on_files(files, config):
    """Quiz files are build input, not pages or assets of the site."""
    for file in list(files):
        if file.src_uri.endswith("quiz.yml"):
            files.remove(file)
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    name = page.meta.get("quiz")
    if name is None:
        return markdown
    page_path = Path(page.file.abs_src_path)
    if not isinstance(name, str) or not name.strip():
        raise QuizError(
            f"{_display(page_path, config)}: front matter 'quiz' must name a "
            f"quiz file, such as 'quiz: quiz.yml'"
        )
    path = page_path.parent / name
    quiz = load_quiz(path, _display(path, config))
    return markdown.rstrip() + "\n\n" + render_quiz(quiz) + "\n"
