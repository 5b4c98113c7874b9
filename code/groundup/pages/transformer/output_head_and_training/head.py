"""The output head: the last hidden state of every position -> scores for every token.

After the last block and the final norm, position t holds a vector h_t of
d_model numbers. The head is one linear map, W (vocab_size, d_model), that
scores every vocabulary entry against it: logits_t = W h_t. With tied weights,
W is the token embedding matrix itself. Softmax turns the scores into the
model's distribution over the next token.
"""

from __future__ import annotations

import torch

from groundup.model.config import GPTConfig
from groundup.model.gpt import GPT


# --8<-- [start:head]
def head_inputs(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """idx (B, T) -> h (B, T, C): what the head receives, the final-normed hidden states."""
    seen = []
    hook = model.head.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    try:
        with torch.no_grad():
            model(idx)
    finally:
        hook.remove()
    return seen[0]


def output_head(h: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """h (B, T, C) and W (V, C) -> logits (B, T, V): logit of token j at t = W[j] . h[t]."""
    return h @ W.T


def next_token_probs(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """idx (B, T) -> (B, V): softmax of the last position's logits, the next-token distribution."""
    with torch.no_grad():
        logits, _ = model(idx)
    return torch.softmax(logits[:, -1, :], dim=-1)


# --8<-- [end:head]


def top_next_tokens(model: GPT, ids: list[int], k: int = 5) -> list[tuple[int, float]]:
    """The k most likely next ids after `ids` (cropped to the last block_size), with probabilities."""
    context = torch.tensor([ids[-model.config.block_size :]])
    probs = next_token_probs(model, context)[0]
    values, indices = probs.topk(k)
    return list(zip(indices.tolist(), values.tolist()))


def rank_of(model: GPT, ids: list[int], target: int) -> tuple[int, float]:
    """(rank, probability) of `target` as the next id after `ids`; rank 1 is the top guess."""
    context = torch.tensor([ids[-model.config.block_size :]])
    probs = next_token_probs(model, context)[0]
    return int((probs > probs[target]).sum()) + 1, float(probs[target])


# --8<-- [start:tying]
def tying_savings(config: GPTConfig) -> tuple[int, int]:
    """(parameters with a tied head, parameters with a separate head) of `config`'s GPT."""
    tied = GPT(config.replace(tie_weights=True)).num_parameters()
    untied = GPT(config.replace(tie_weights=False)).num_parameters()
    return tied, untied


# --8<-- [end:tying]


def is_tied(model: GPT) -> bool:
    """True when the head's weight is the very tensor of the token embedding."""
    return model.head.weight is model.tok_emb.weight
