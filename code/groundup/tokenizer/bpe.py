"""`BPETokenizer`: a byte-level BPE tokenizer that trains, encodes, decodes and saves.

Ids 0..255 are the raw bytes (for a tokenizer we trained), then one id per merge
in the order learned, then the special tokens. Encoding follows tiktoken exactly:
split text with the pattern, then merge each pre-token by lowest rank.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Literal

import regex

from groundup.tokenizer.encode import bpe_encode_piece
from groundup.tokenizer.patterns import GPT4_SPLIT_PATTERN
from groundup.tokenizer.train import Merge, count_words, train_bpe

AllowedSpecial = Literal["none_raise", "all", "none"] | Collection[str]
DisallowedSpecial = Literal["all"] | Collection[str]


class BPETokenizer:
    """A byte-level BPE tokenizer.

    `ranks` maps each token's bytes to its id (tiktoken's `mergeable_ranks`);
    `special_tokens` maps each special string to its id.
    """

    def __init__(
        self,
        ranks: dict[bytes, int],
        pattern: str = GPT4_SPLIT_PATTERN,
        special_tokens: dict[str, int] | None = None,
        merges: Iterable[Merge] = (),
        cache_size: int = 100_000,
    ) -> None:
        special_tokens = dict(special_tokens or {})
        missing = [b for b in range(256) if bytes([b]) not in ranks]
        if missing:
            raise ValueError(
                f"ranks must contain all 256 single bytes; missing {len(missing)}, "
                f"e.g. byte {missing[0]}"
            )
        if len(set(ranks.values())) != len(ranks):
            raise ValueError("ranks must give every token a distinct id")
        clash = set(special_tokens.values()) & set(ranks.values())
        if clash:
            raise ValueError(f"special token ids collide with ordinary ids: {sorted(clash)[:5]}")
        if any(not isinstance(s, str) or not s for s in special_tokens):
            raise ValueError("special tokens must be non-empty strings")
        self._ranks = dict(ranks)
        self.pattern = pattern
        self._split = regex.compile(pattern)
        self._special = special_tokens
        self._decoder = {i: b for b, i in ranks.items()}
        self._decoder.update({i: s.encode("utf-8") for s, i in special_tokens.items()})
        self.merges = list(merges)
        self._cache: dict[str, list[int]] = {}
        self._cache_size = cache_size

    # ----------------------------------------------------------------- training
    @classmethod
    def train(
        cls,
        text: str | Iterable[str],
        vocab_size: int,
        pattern: str = GPT4_SPLIT_PATTERN,
        special_tokens: Collection[str] = (),
        progress: bool = False,
    ) -> BPETokenizer:
        """Train on `text` (a string or an iterable of strings) to `vocab_size` ids.

        `vocab_size` counts the 256 byte tokens, the merges and the special
        tokens. Special-token strings in the text are cut out before counting,
        so no merge ever spans one. If the corpus runs out of pairs first, the
        tokenizer is smaller than asked (see `vocab_size`). Lone surrogates are
        replaced with U+FFFD first, as `encode` replaces them.
        """
        texts = [text] if isinstance(text, str) else list(text)
        for t in texts:
            _check_str(t)
        specials = list(dict.fromkeys(special_tokens))
        if vocab_size < 256 + len(specials):
            raise ValueError(
                f"vocab_size={vocab_size} is too small: need at least 256 byte tokens "
                f"+ {len(specials)} special tokens = {256 + len(specials)}"
            )
        if not any(texts):
            raise ValueError("cannot train on an empty corpus")
        if specials:
            cut = regex.compile("|".join(regex.escape(s) for s in _longest_first(specials)))
            texts = [part for t in texts for part in cut.split(t)]
        texts = [_scrub_surrogates(t) for t in texts]  # else they could not become bytes
        word_counts = count_words(texts, regex.compile(pattern))
        merges = train_bpe(word_counts, vocab_size - 256 - len(specials), progress=progress)

        vocab = [bytes([i]) for i in range(256)]
        for m in merges:
            vocab.append(vocab[m.pair[0]] + vocab[m.pair[1]])
        ranks: dict[bytes, int] = {}
        for i, b in enumerate(vocab):
            ranks.setdefault(b, i)  # a repeated byte string keeps its first id
        specials_ids = {s: len(vocab) + k for k, s in enumerate(specials)}
        return cls(ranks, pattern, specials_ids, merges)

    @classmethod
    def from_ranks(
        cls,
        mergeable_ranks: dict[bytes, int],
        pattern: str,
        special_tokens: dict[str, int] | None = None,
    ) -> BPETokenizer:
        """Build from tiktoken-style ranks, e.g. `tiktoken.get_encoding("gpt2")._mergeable_ranks`."""
        return cls(mergeable_ranks, pattern, special_tokens)

    # --------------------------------------------------------------- properties
    @property
    def ranks(self) -> dict[bytes, int]:
        """Token bytes -> id for ordinary tokens, in tiktoken's `mergeable_ranks` format."""
        return dict(self._ranks)

    @property
    def special_tokens(self) -> dict[str, int]:
        """Special string -> id."""
        return dict(self._special)

    @property
    def vocab_size(self) -> int:
        """Number of ids: one more than the largest id."""
        return max(self._decoder) + 1

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token id."""
        return self.decode_bytes([token_id])

    # ----------------------------------------------------------------- encoding
    # --8<-- [start:encode_ordinary]
    def encode_ordinary(self, text: str) -> list[int]:
        """Encode `text`, treating special-token strings as plain text."""
        _check_str(text)
        return self._encode_pieces(self._split.findall(_scrub_surrogates(text)))

    def _encode_pieces(self, pieces: Iterable[str]) -> list[int]:
        """Encode pre-tokens, remembering each one (pre-tokens repeat a lot)."""
        cache = self._cache
        ids: list[int] = []
        for piece in pieces:
            piece_ids = cache.get(piece)
            if piece_ids is None:
                piece_ids = bpe_encode_piece(piece.encode("utf-8"), self._ranks)
                if len(cache) >= self._cache_size:
                    cache.clear()  # keep memory bounded on endless streams
                cache[piece] = piece_ids
            ids.extend(piece_ids)
        return ids

    # --8<-- [end:encode_ordinary]

    # --8<-- [start:encode]
    def encode(
        self,
        text: str,
        allowed_special: AllowedSpecial = "none_raise",
        *,
        disallowed_special: DisallowedSpecial = "all",
    ) -> list[int]:
        """Encode `text` to ids.

        allowed_special:
          "none_raise" (default): raise ValueError if `text` contains any special
              token's string, so user text can never smuggle in control tokens;
          "all": turn every special string into its special id;
          a set of strings: turn those into special ids, raise on any other;
          "none": treat special strings as plain text (like `encode_ordinary`).
        disallowed_special (tiktoken's second argument): which special strings that
          are not allowed raise; "all" (default) is all of them, a set only those,
          and the rest are read as plain text, so `disallowed_special=()` refuses nothing.
        """
        _check_str(text)
        allowed, refused = self._special_policy(allowed_special, disallowed_special)
        found = [s for s in refused if s in text]
        if found:
            raise _disallowed_error(found[0])
        if not allowed:
            return self.encode_ordinary(text)
        cut = regex.compile("(" + "|".join(regex.escape(s) for s in _longest_first(allowed)) + ")")
        ids: list[int] = []
        for k, part in enumerate(cut.split(text)):
            if k % 2:  # odd parts are the special strings themselves
                ids.append(self._special[part])
            elif part:
                ids.extend(self.encode_ordinary(part))
        return ids

    def _special_policy(
        self, allowed_special: AllowedSpecial, disallowed_special: DisallowedSpecial
    ) -> tuple[set[str], list[str]]:
        """(special strings to encode as their ids, special strings that raise)."""
        if allowed_special in ("none", "none_raise"):
            allowed = set()
        elif allowed_special == "all":
            allowed = set(self._special)
        else:
            allowed = self._known_specials(allowed_special, "allowed_special")
        if disallowed_special == "all":
            if allowed_special == "none":
                return allowed, []
            return allowed, [s for s in self._special if s not in allowed]
        refused = self._known_specials(disallowed_special, "disallowed_special")
        return allowed, [s for s in self._special if s in refused]

    # --8<-- [end:encode]

    def _known_specials(self, names: Collection[str], argument: str) -> set[str]:
        """`names` as a set; ValueError for a lone string or a name that is not ours."""
        if isinstance(names, str):  # a lone string would be read as a set of characters
            modes = "'none_raise', 'all', 'none'" if argument == "allowed_special" else "'all'"
            raise ValueError(f"{argument} must be {modes} or a set, got {names!r}")
        unknown = set(names) - set(self._special)
        if unknown:
            raise ValueError(f"not special tokens of this tokenizer: {sorted(unknown)}")
        return set(names)

    # --8<-- [start:encode_iterable]
    def encode_iterable(
        self,
        texts: Iterable[str],
        allowed_special: AllowedSpecial = "none_raise",
        *,
        disallowed_special: DisallowedSpecial = "all",
    ) -> Iterator[int]:
        """Stream ids for the concatenation of `texts` (e.g. the lines of a file).

        Yields exactly `encode("".join(texts), ...)` with the same arguments (same
        ValueError for a special string that is not allowed, raised when the chunk
        that completes it arrives) while holding only the current chunk and what
        the next chunk could still change: the last characters that may begin a
        special token (one fewer than the longest), and two unfinished pre-tokens.
        """
        # a bad argument raises here, not at the first next()
        allowed, refused = self._special_policy(allowed_special, disallowed_special)
        return self._encode_stream(self._cut_specials(self._refuse(texts, refused), allowed))

    def _refuse(self, texts: Iterable[str], refused: list[str]) -> Iterator[str]:
        """Pass `texts` through; raise ValueError where a `refused` string occurs, also
        across chunks: the last characters seen (one fewer than the longest) are kept."""
        wait = max(map(len, refused), default=1) - 1
        seen = ""
        for text in _checked_strs(texts):
            window = seen + text
            found = [s for s in refused if s in window]
            if found:
                raise _disallowed_error(found[0])
            seen = window[-wait:] if wait else ""
            yield text

    def _cut_specials(self, texts: Iterable[str], allowed: Collection[str]) -> Iterator[str | int]:
        """Pass the text through, with each `allowed` special string replaced by its id.

        A special string can be cut across chunks ("<|endo" + "ftext|>"), so a match
        is final only once the longest special would fit after its start; the text
        from there on waits for the next chunk.
        """
        if not allowed:
            yield from texts
            return
        cut = regex.compile("(" + "|".join(regex.escape(s) for s in _longest_first(allowed)) + ")")
        wait = max(map(len, allowed)) - 1
        buffer = ""
        for text in texts:
            buffer += text
            done = 0
            for m in cut.finditer(buffer):
                if m.start() + wait >= len(buffer):
                    break  # a longer special may still match here
                yield buffer[done : m.start()]
                yield self._special[m.group()]
                done = m.end()
            keep = max(done, len(buffer) - wait)
            yield buffer[done:keep]
            buffer = buffer[keep:]
        for k, part in enumerate(cut.split(buffer)):  # the input has ended: every match is final
            yield self._special[part] if k % 2 else part

    def _encode_stream(self, pieces: Iterable[str | int]) -> Iterator[int]:
        """Encode text pieces as one text, passing special ids through (no pre-token
        crosses one). The last pre-token of the buffer may still grow with the next
        piece, and the one before it may too (GPT-2's "'l" + "l" becomes "'ll";
        GPT-4's " \n" + "  " + "\n" becomes " \n  \n"), so both wait."""
        buffer = ""
        for piece in pieces:
            if isinstance(piece, int):
                yield from self.encode_ordinary(buffer)
                yield piece
                buffer = ""
                continue
            buffer += piece
            if "\ud800" <= buffer[-1:] <= "\udbff":
                continue  # a high surrogate may pair with the next piece's first character
            buffer = _scrub_surrogates(buffer)
            matches = list(self._split.finditer(buffer))
            if len(matches) > 2:
                yield from self._encode_pieces(m.group() for m in matches[:-2])
                buffer = buffer[matches[-2].start() :]
        yield from self.encode_ordinary(buffer)

    # --8<-- [end:encode_iterable]

    # ----------------------------------------------------------------- decoding
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Concatenate the bytes of `ids`. Raises ValueError on an unknown id."""
        ids = list(ids)  # an iterator could not be read twice for the error message
        try:
            return b"".join([self._decoder[i] for i in ids])
        except (KeyError, TypeError):
            bad = next(i for i in ids if not _is_known(self._decoder, i))
            raise ValueError(
                f"unknown token id {bad!r}: this tokenizer has ids 0..{self.vocab_size - 1}"
            ) from None

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """Decode ids to text. Byte sequences that are not valid UTF-8 (a token
        sequence cut mid-character, or arbitrary ids) become U+FFFD, as in tiktoken;
        `errors` is `bytes.decode`'s (and tiktoken's): "strict" raises
        UnicodeDecodeError instead, "ignore" drops them."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    # ------------------------------------------------------------------- files
    def save(self, path: str | Path) -> None:
        """Write the tokenizer as JSON, atomically (see `groundup.tokenizer.files`)."""
        from groundup.tokenizer.files import save_tokenizer

        save_tokenizer(self, path)

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Read a file written by `save`; raises TokenizerFileError if it is damaged."""
        from groundup.tokenizer.files import load_tokenizer

        return load_tokenizer(path)

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, special_tokens={len(self._special)})"


def _check_str(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(f"expected text as str, got {type(text).__name__}")


def _checked_strs(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        _check_str(text)
        yield text


def _disallowed_error(special: str) -> ValueError:
    return ValueError(
        f"text contains special token {special!r}; pass "
        f"allowed_special={{{special!r}}} (or 'all') to encode it as a "
        f"special token, or use encode_ordinary to encode it as plain text"
    )


def _scrub_surrogates(text: str) -> str:
    """Lone surrogates cannot be UTF-8 encoded; like tiktoken, replace them with U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _longest_first(strings: Iterable[str]) -> list[str]:
    return sorted(strings, key=len, reverse=True)


def _is_known(decoder: dict[int, bytes], token_id: object) -> bool:
    try:
        return token_id in decoder
    except TypeError:
        return False
