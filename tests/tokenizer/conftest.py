"""Fixtures shared by the tokenizer tests: the parity text and GPT-2 (ours and tiktoken's)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tiktoken

from groundup.tokenizer import BPETokenizer, load_gpt2_files

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def parity_text() -> str:
    """`tests/data/parity_corpus.txt`: prose, code, numbers, many scripts, emoji, whitespace."""
    # read bytes: read_text() would turn the file's "\r\n" into "\n"
    text = (DATA / "parity_corpus.txt").read_bytes().decode("utf-8")
    # and add CRLF / CR / blank-line oddities in code, in case a checkout rewrote line ends
    extra = "crlf line\r\n\r\n\r\nbare cr\rtext  \r\n\t\r\n" + "\n" * 12 + "   end   "
    return text + extra


@pytest.fixture(scope="module")
def gpt2_pair(shared_data: Path) -> tuple[BPETokenizer, tiktoken.Encoding]:
    """GPT-2's published files loaded by us, and tiktoken's own "gpt2" encoding."""
    ours = load_gpt2_files(
        shared_data / "gpt2" / "encoder.json", shared_data / "gpt2" / "vocab.bpe"
    )
    return ours, tiktoken.get_encoding("gpt2")
