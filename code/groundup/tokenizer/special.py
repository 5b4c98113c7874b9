"""Special tokens in token streams: document boundaries, fill-in-the-middle, padding.

A special token is an id outside the merge vocabulary: no run of bytes ever
merges into it, so `encode_ordinary` never produces it. Pipelines insert these
ids themselves, by id, around text that was encoded as ordinary text. The chat
template, which does the same for conversation turns, is in
`groundup.tokenizer.chat`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from groundup.tokenizer.bpe import BPETokenizer

EOT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
PAD = "<|pad|>"


def special_id(tok: BPETokenizer, name: str) -> int:
    """The id of the special token `name`; a ValueError naming it if `tok` lacks it."""
    specials = tok.special_tokens
    if name not in specials:
        raise ValueError(
            f"this tokenizer has no special token {name!r}; "
            f"its special tokens are {sorted(specials)}"
        )
    return specials[name]


# --8<-- [start:pack_documents]
def pack_documents(tok: BPETokenizer, documents: Iterable[str], eot: str = EOT) -> list[int]:
    """One pretraining stream: each document's ordinary ids, then the end-of-text id.

    The text of a document is encoded with `encode_ordinary`, so a document
    that happens to contain the string "<|endoftext|>" cannot end itself early.
    """
    eot_id = special_id(tok, eot)
    ids: list[int] = []
    for doc in documents:
        ids.extend(tok.encode_ordinary(doc))
        ids.append(eot_id)
    return ids


# --8<-- [end:pack_documents]


def split_documents(tok: BPETokenizer, ids: Sequence[int], eot: str = EOT) -> list[str]:
    """Undo `pack_documents`: cut the stream at each end-of-text id and decode the pieces.

    A final piece with no end-of-text id after it (a stream cut mid-document)
    is returned too; an empty tail is not.
    """
    eot_id = special_id(tok, eot)
    docs: list[str] = []
    current: list[int] = []
    for i in ids:
        if i == eot_id:
            docs.append(tok.decode(current))
            current = []
        else:
            current.append(i)
    if current:
        docs.append(tok.decode(current))
    return docs


# --8<-- [start:fim_ids]
def fim_ids(tok: BPETokenizer, prefix: str, middle: str, suffix: str) -> list[int]:
    """A fill-in-the-middle example in prefix-suffix-middle (PSM) order.

    The document is prefix + middle + suffix, but the model reads
    <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|> middle <|endoftext|>,
    so by the time it predicts the middle it has seen both sides of the hole.
    """
    return [
        special_id(tok, FIM_PREFIX),
        *tok.encode_ordinary(prefix),
        special_id(tok, FIM_SUFFIX),
        *tok.encode_ordinary(suffix),
        special_id(tok, FIM_MIDDLE),
        *tok.encode_ordinary(middle),
        special_id(tok, EOT),
    ]


# --8<-- [end:fim_ids]


# --8<-- [start:pad_batch]
def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Right-pad id sequences to the longest one.

    Returns (rows, mask): mask is 1 where a row holds a real token and 0 where
    it holds `pad_id`, so attention and the loss can ignore the padding.
    """
    width = max((len(s) for s in sequences), default=0)
    rows = [list(s) + [pad_id] * (width - len(s)) for s in sequences]
    mask = [[1] * len(s) + [0] * (width - len(s)) for s in sequences]
    return rows, mask


# --8<-- [end:pad_batch]
