"""Sequential against parallel: an RNN and causal self-attention over the same sequence.

Two ways to see the difference. `graph_depth` counts the longest chain of
operations that must run one after another (read off autograd's graph), and
`sequence_timings` measures wall time on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn

from groundup.model.attention import MultiHeadAttention
from groundup.model.config import GPTConfig
from groundup.pages.transformer.timing import best_time, one_thread
from groundup.pages.transformer.why_transformers.rnn import RNN


# --8<-- [start:graph_depth]
def graph_depth(output: torch.Tensor) -> int:
    """Length of the longest chain of recorded operations that ends in `output`.

    Every node of autograd's graph is one operation; an operation can start
    only when all its inputs exist, so this chain is the number of steps no
    amount of hardware can run at the same time. 0 if nothing was recorded.
    """
    if output.grad_fn is None:
        return 0
    depth: dict[Any, int] = {}
    stack: list[tuple[Any, bool]] = [(output.grad_fn, False)]
    while stack:  # depth-first, without recursion
        node, inputs_done = stack.pop()
        inputs = [n for n, _ in node.next_functions if n is not None]
        if inputs_done:
            depth[node] = 1 + max((depth[n] for n in inputs), default=0)
        elif node not in depth:
            stack.append((node, True))
            stack.extend((n, False) for n in inputs if n not in depth)
    return depth[output.grad_fn]


# --8<-- [end:graph_depth]


def rnn_flops_per_token(d_in: int, d_hidden: int) -> int:
    """Matmul FLOPs per token of `RNN`: U x_t (2 d_in H) and W h_{t-1} (2 H^2)."""
    return 2 * d_hidden * (d_in + d_hidden)


def attention_flops_per_token(d_model: int, t: int) -> int:
    """Matmul FLOPs per token of one `MultiHeadAttention` (n_kv_heads = n_head, head_dim =
    d_model / n_head) over a context of t tokens: the q, k, v and output projections
    (2 * 4 d^2) plus the scores q k^T and the weighted sum of values (2 * 2 t d), counted
    in full as the explicit (unfused) computation does, masked half included."""
    return 8 * d_model * d_model + 4 * t * d_model


@dataclass(frozen=True)
class SequenceTiming:
    """Best-of-N forward times, in seconds, over one sequence of `length` tokens."""

    length: int
    rnn_loop: float  # our `RNN`: a Python loop of `length` steps
    torch_rnn: float  # torch.nn.RNN: the same recurrence, looped in C++
    attention: float  # one causal `MultiHeadAttention` pass (PyTorch's fused SDPA)


# --8<-- [start:sequence_timings]
def sequence_timings(
    lengths: list[int], d_model: int = 64, n_head: int = 4, repeats: int = 5
) -> list[SequenceTiming]:
    """Time an RNN and causal self-attention of width d_model on one sequence (B = 1)
    of each length, forward only, on one thread. Both map (1, T, d) -> (1, T, d)."""
    torch.manual_seed(0)
    ours = RNN(d_model, d_model)
    theirs = nn.RNN(d_model, d_model, batch_first=True)  # tanh, the same equation
    attention = MultiHeadAttention(GPTConfig(d_model=d_model, n_head=n_head))
    rows = []
    with torch.no_grad(), one_thread():
        for T in lengths:
            x = torch.randn(1, T, d_model)
            rows.append(
                SequenceTiming(
                    length=T,
                    rnn_loop=best_time(partial(ours, x), repeats),
                    torch_rnn=best_time(partial(theirs, x), repeats),
                    attention=best_time(partial(attention, x), repeats),
                )
            )
    return rows


# --8<-- [end:sequence_timings]
