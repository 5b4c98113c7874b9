"""A small parallel text: Article 1 of the Universal Declaration of Human Rights.

The same two sentences in eleven languages and eight scripts, from the United
Nations' translations of the Declaration (which the UN publishes for free
reproduction). Because every version says the same thing, the number of
tokens each one costs can be compared directly.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One translation: the language, its writing system, and the text."""

    language: str
    script: str
    text: str


# --8<-- [start:udhr]
UDHR_ARTICLE_1: tuple[Sample, ...] = (
    Sample(
        "English",
        "Latin",
        "All human beings are born free and equal in dignity and rights. They are "
        "endowed with reason and conscience and should act towards one another in a "
        "spirit of brotherhood.",
    ),
    Sample(
        "French",
        "Latin",
        "Tous les êtres humains naissent libres et égaux en dignité et en droits. Ils "
        "sont doués de raison et de conscience et doivent agir les uns envers les "
        "autres dans un esprit de fraternité.",
    ),
    Sample(
        "German",
        "Latin",
        "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit "
        "Vernunft und Gewissen begabt und sollen einander im Geist der Brüderlichkeit "
        "begegnen.",
    ),
    Sample(
        "Spanish",
        "Latin",
        "Todos los seres humanos nacen libres e iguales en dignidad y derechos y, "
        "dotados como están de razón y conciencia, deben comportarse fraternalmente "
        "los unos con los otros.",
    ),
    Sample(
        "Russian",
        "Cyrillic",
        "Все люди рождаются свободными и равными в своем достоинстве и правах. Они "
        "наделены разумом и совестью и должны поступать в отношении друг друга в духе "
        "братства.",
    ),
    Sample(
        "Greek",
        "Greek",
        "Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και τα "
        "δικαιώματα. Είναι προικισμένοι με λογική και συνείδηση, και οφείλουν να "
        "συμπεριφέρονται μεταξύ τους με πνεύμα αδελφοσύνης.",
    ),
    Sample(
        "Arabic",
        "Arabic",
        "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق. وقد وهبوا عقلاً وضميرًا "
        "وعليهم أن يعامل بعضهم بعضًا بروح الإخاء.",
    ),
    Sample(
        "Hindi",
        "Devanagari",
        "सभी मनुष्यों को गौरव और अधिकारों के मामले में जन्मजात स्वतन्त्रता और समानता "
        "प्राप्त है। उन्हें बुद्धि और अन्तरात्मा की देन प्राप्त है और परस्पर उन्हें "
        "भाईचारे के भाव से बर्ताव करना चाहिए।",
    ),
    Sample(
        "Chinese",
        "Han",
        "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。",
    ),
    Sample(
        "Japanese",
        "Kanji and kana",
        "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。"
        "人間は、理性と良心とを授けられており、互いに同胞の精神をもって行動しなければならない。",
    ),
    Sample(
        "Korean",
        "Hangul",
        "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다. 인간은 "
        "천부적으로 이성과 양심을 부여받았으며 서로 형제애의 정신으로 행동하여야 한다.",
    ),
)
# --8<-- [end:udhr]


def sample(language: str) -> Sample:
    """The translation in `language` (e.g. "English"); KeyError if there is none."""
    for s in UDHR_ARTICLE_1:
        if s.language == language:
            return s
    raise KeyError(f"no sample in {language!r}; have {[s.language for s in UDHR_ARTICLE_1]}")


def script_letters(text: str) -> str:
    """The characters of `text` that belong to its script: letters and combining
    marks (Unicode categories L* and M*), without spaces, digits or punctuation."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LM")


# --8<-- [start:utf8_bytes_per_letter]
def utf8_bytes_per_letter(text: str) -> float:
    """Mean UTF-8 length of the script's own characters in `text` (1 for ASCII letters,
    2 for Cyrillic or Greek, 3 for Devanagari, Han, kana or Hangul)."""
    letters = script_letters(text)
    if not letters:
        raise ValueError("text has no letters")
    return len(letters.encode("utf-8")) / len(letters)


# --8<-- [end:utf8_bytes_per_letter]
