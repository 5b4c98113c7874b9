"""Cross-attention: how the decoder of an encoder-decoder model reads the encoder.

Self-attention takes queries, keys and values from one sequence. Cross-attention
takes the queries from the decoder's sequence and the keys and values from the
encoder's output (the "memory"), so each target position can look at every
source position. It is the only place where the two halves meet.
"""

from __future__ import annotations

import torch
from torch import nn

from groundup.model.attention import scaled_dot_product_attention


# --8<-- [start:cross_attention]
class CrossAttention(nn.Module):
    """Queries from x (B, T, C), keys and values from memory (B, S, C) -> (B, T, C).

    Also returns the weights (B, H, T, S): row t is decoder position t's
    distribution over the S encoder positions. No mask: the whole source is
    known before decoding starts.
    """

    def __init__(self, d_model: int, n_head: int, bias: bool = True) -> None:
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model={d_model} is not divisible by n_head={n_head}")
        self.n_head, self.head_dim = n_head, d_model // n_head
        self.q = nn.Linear(d_model, d_model, bias=bias)  # reads the decoder
        self.kv = nn.Linear(d_model, 2 * d_model, bias=bias)  # reads the encoder
        self.proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        (B, T, C), S = x.shape, memory.size(1)
        if memory.shape != (B, S, C):
            raise ValueError(f"memory must be (B={B}, S, C={C}), got {tuple(memory.shape)}")
        q = self.q(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        k, v = self.kv(memory).view(B, S, 2, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        out, weights = scaled_dot_product_attention(q, k, v, causal=False)  # (B, H, T, hd)
        return self.proj(out.transpose(1, 2).reshape(B, T, C)), weights


# --8<-- [end:cross_attention]
