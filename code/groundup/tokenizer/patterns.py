"""Pre-tokenization split patterns used by GPT-2 and GPT-4 (cl100k).

A split pattern cuts text into *pre-tokens* (roughly: words with their leading
space, runs of digits, runs of punctuation, runs of whitespace). BPE merges never
cross a pre-token boundary, so "dog." can never become one token.
"""

# --8<-- [start:patterns]
GPT2_SPLIT_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
)
# --8<-- [end:patterns]
