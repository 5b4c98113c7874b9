"""Scaled dot-product attention and multi-head (grouped-query) self-attention."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from groundup.model.config import GPTConfig
from groundup.model.positions import apply_rope

if TYPE_CHECKING:  # only for type hints: the cache lives with generation
    from groundup.inference.kv_cache import LayerCache


# --8<-- [start:causal_mask]
def causal_mask(t_q: int, t_k: int, device: torch.device | None = None) -> torch.Tensor:
    """(t_q, t_k) bool, True where query i may attend to key j.

    The last query sits at the last key position, so query i (of t_q) may see
    keys 0 .. i + (t_k - t_q): everything up to and including itself.
    """
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)


# --8<-- [end:causal_mask]


# --8<-- [start:sdpa]
def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | None = None,
    causal: bool = True,
    dropout: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d_k) + bias) v, step by step.

    q: (B, H, T, d_k), k: (B, H, S, d_k), v: (B, H, S, d_v); bias broadcasts to
    (B, H, T, S). Returns the output (B, H, T, d_v) and the weights (B, H, T, S),
    each row of which is a probability distribution over the keys. `dropout`
    zeroes random weights while training (and rescales the rest).
    """
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (B, H, T, S)
    if bias is not None:
        scores = scores + bias
    if causal:
        allowed = causal_mask(q.size(-2), k.size(-2), device=q.device)
        scores = scores.masked_fill(~allowed, float("-inf"))  # no peeking ahead
    weights = torch.softmax(scores, dim=-1)  # rows sum to 1
    if dropout > 0.0:
        weights = F.dropout(weights, p=dropout)
    return weights @ v, weights


# --8<-- [end:sdpa]


# --8<-- [start:attention]
class MultiHeadAttention(nn.Module):
    """Causal self-attention with n_head query heads sharing n_kv_heads key/value heads.

    n_kv_heads == n_head is ordinary multi-head attention; 1 is multi-query
    attention; anything in between is grouped-query attention (GQA), where each
    key/value head serves n_head // n_kv_heads query heads.
    x: (B, T, d_model) -> (B, T, d_model).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.n_kv_heads = config.n_head, config.kv_heads
        self.head_dim = config.dim_per_head
        self.use_sdpa = config.attention == "sdpa"
        self.dropout = config.dropout
        q_dim, kv_dim = self.n_head * self.head_dim, self.n_kv_heads * self.head_dim
        self.qkv = nn.Linear(config.d_model, q_dim + 2 * kv_dim, bias=config.bias)
        self.proj = nn.Linear(q_dim, config.d_model, bias=config.bias)

    def heads(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: LayerCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Project x (B, T, C) to q (B, H, T, hd) and k, v (B, H, S, hd), KV heads repeated.

        Without a cache S = T; with one, the new keys and values are stored and k, v
        hold every token so far (S = cached + T).
        """
        B, T, _ = x.shape
        q_dim, kv_dim = self.n_head * self.head_dim, self.n_kv_heads * self.head_dim
        q, k, v = self.qkv(x).split([q_dim, kv_dim, kv_dim], dim=-1)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:  # generating: keep these keys and values, read all earlier ones
            k, v = cache.update(k, v)
        group = self.n_head // self.n_kv_heads
        if group > 1:  # each KV head serves `group` consecutive query heads
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        return q, k, v

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        mask: torch.Tensor | None = None,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        """mask: added to the scores, broadcast to (B, H, T, S), -inf where a query may
        not look; None is plain causal attention (`GPT` passes one whenever it is more)."""
        B, T, _ = x.shape
        q, k, v = self.heads(x, rope, cache)
        dropout = self.dropout if self.training else 0.0
        causal = mask is None and T > 1  # a single new query may see every key
        if self.use_sdpa:  # the same computation in one fused PyTorch kernel
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=causal, dropout_p=dropout
            )
        else:
            out, _ = scaled_dot_product_attention(q, k, v, mask, causal=causal, dropout=dropout)
        out = out.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim)  # concat heads
        return self.proj(out)

    # --8<-- [end:attention]

    def attention_weights(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The attention probabilities this layer computes for x: (B, H, T, T)."""
        q, k, v = self.heads(x, rope)
        return scaled_dot_product_attention(q, k, v, mask)[1]
