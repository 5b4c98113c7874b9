"""Three ways to read a cross-entropy: nats per token, perplexity, bits per byte.

A loss of L nats per token means the model gave the correct next token a
probability of e^-L on (geometric) average. Perplexity e^L is the number of
equally likely choices that would be as uncertain. Bits per byte divides out
the tokenizer: it is the loss in bits per token, spread over the bytes each
token stands for, so that models with different tokenizers can be compared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from groundup.tokenizer import BPETokenizer


# --8<-- [start:metrics]
def perplexity(loss: float) -> float:
    """e^loss: the size of a uniform choice that is as uncertain as the model."""
    return math.exp(loss)


def uniform_loss(vocab_size: int) -> float:
    """The loss of a model that gives every token the same probability: ln V."""
    return math.log(vocab_size)


def bits_per_byte(loss: float, n_tokens: int, n_bytes: int) -> float:
    """Nats per token -> bits per byte, over n_tokens predictions that cover n_bytes."""
    return loss * n_tokens / (n_bytes * math.log(2))


# --8<-- [end:metrics]


def predicted_bytes(tokenizer: BPETokenizer, ids: Sequence[int]) -> int:
    """UTF-8 bytes of the tokens a held-out score predicts: every id but the first."""
    return sum(len(tokenizer.token_bytes(int(i))) for i in ids[1:])
