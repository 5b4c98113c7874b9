"""A chat template: a conversation as token ids, each turn wrapped in role markers.

The layout is ChatML's: every turn is

    <|im_start|>ROLE\\nCONTENT<|im_end|>\\n

where `<|im_start|>` and `<|im_end|>` are special tokens. The markers are
inserted by id; the role name and the content are encoded as ordinary text,
so nothing a user types can produce a marker. `chat_ids_unsafe` shows the bug
this prevents, and `chat_turns` reads turns back the way a model would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from groundup.tokenizer.bpe import BPETokenizer
from groundup.tokenizer.special import EOT, special_id

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
ROLES = ("system", "user", "assistant")
CHAT_SPECIAL_TOKENS = (EOT, IM_START, IM_END)

Message = Mapping[str, str]


def _turns(messages: Iterable[Message]) -> list[tuple[str, str]]:
    """(role, content) pairs, checked: a known role and string content."""
    turns = []
    for k, m in enumerate(messages):
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ValueError(f"message {k}: role must be one of {ROLES}, got {role!r}")
        if not isinstance(content, str):
            raise TypeError(f"message {k}: content must be str, got {type(content).__name__}")
        turns.append((role, content))
    return turns


# --8<-- [start:chat_text]
def chat_text(messages: Iterable[Message], add_generation_prompt: bool = False) -> str:
    """The conversation as one string in ChatML layout, for people to read.

    With `add_generation_prompt`, it ends with an open assistant turn: the
    point where the model is asked to continue.
    """
    text = "".join(f"{IM_START}{role}\n{content}{IM_END}\n" for role, content in _turns(messages))
    if add_generation_prompt:
        text += f"{IM_START}assistant\n"
    return text


# --8<-- [end:chat_text]


# --8<-- [start:chat_ids]
def chat_ids(
    tok: BPETokenizer, messages: Iterable[Message], add_generation_prompt: bool = False
) -> list[int]:
    """The conversation as ids: role markers inserted by id, all text encoded as text.

    Role and content go through `encode_ordinary`, so a message that contains
    the string "<|im_end|>" yields the ordinary tokens for those characters,
    never the marker's id.
    """
    start, end = special_id(tok, IM_START), special_id(tok, IM_END)
    newline = tok.encode_ordinary("\n")
    ids: list[int] = []
    for role, content in _turns(messages):
        ids.append(start)
        ids.extend(tok.encode_ordinary(f"{role}\n{content}"))
        ids.append(end)
        ids.extend(newline)
    if add_generation_prompt:
        ids.append(start)
        ids.extend(tok.encode_ordinary("assistant\n"))
    return ids


# --8<-- [end:chat_ids]


# --8<-- [start:chat_ids_unsafe]
def chat_ids_unsafe(
    tok: BPETokenizer, messages: Iterable[Message], add_generation_prompt: bool = False
) -> list[int]:
    """The bug, kept for demonstration: render to a string, then parse every special
    string in it, including any that came from a user's message."""
    return tok.encode(chat_text(messages, add_generation_prompt), allowed_special="all")


# --8<-- [end:chat_ids_unsafe]


# --8<-- [start:chat_turns]
def chat_turns(tok: BPETokenizer, ids: Sequence[int]) -> list[dict[str, str]]:
    """Read turns back from ids, going only by the marker ids, as a model does.

    A turn is what lies between an <|im_start|> id and the next <|im_end|> id:
    its first line is the role, the rest the content. Ids outside turns (the
    newline between them) are skipped; an open last turn is returned too.
    """
    start, end = special_id(tok, IM_START), special_id(tok, IM_END)
    turns: list[dict[str, str]] = []
    current: list[int] | None = None
    for i in ids:
        if i == start:
            if current is not None:
                raise ValueError("an <|im_start|> inside a turn that has not ended")
            current = []
        elif i == end:
            if current is None:
                raise ValueError("an <|im_end|> outside any turn")
            role, _, content = tok.decode(current).partition("\n")
            turns.append({"role": role, "content": content})
            current = None
        elif current is not None:
            current.append(i)
    if current is not None:
        role, _, content = tok.decode(current).partition("\n")
        turns.append({"role": role, "content": content})
    return turns


# --8<-- [end:chat_turns]
