"""Byte-level BPE: train, encode, decode, save, and interoperate with tiktoken."""

from groundup.tokenizer.bpe import BPETokenizer
from groundup.tokenizer.files import TokenizerFileError, load_gpt2_files
from groundup.tokenizer.patterns import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN
from groundup.tokenizer.train import Merge

__all__ = [
    "BPETokenizer",
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "Merge",
    "TokenizerFileError",
    "load_gpt2_files",
]
