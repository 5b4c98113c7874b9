"""Reference versions of what `MultiHeadAttention` does in one batched step.

`attention_head_by_head` runs the heads one at a time, as separate small
attentions, the way one might first write it; `expand_kv_heads` turns a
grouped-query layer into an ordinary multi-head one by copying each shared key
and value projection to every query head that uses it. Tests check that both
give exactly what the real layer computes.
"""

from __future__ import annotations

import math

import torch

from groundup.model.attention import MultiHeadAttention, causal_mask
from groundup.model.config import GPTConfig


# --8<-- [start:head_loop]
def attention_head_by_head(attn: MultiHeadAttention, x: torch.Tensor) -> torch.Tensor:
    """What attn(x) computes, one head at a time: (B, T, C) -> (B, T, C)."""
    T = x.size(1)
    q, k, v = attn.heads(x)  # (B, H, T, hd) each
    allowed = causal_mask(T, T, device=x.device)  # (T, T)
    outputs = []
    for h in range(attn.n_head):  # one small attention per head
        scores = q[:, h] @ k[:, h].transpose(-2, -1) / math.sqrt(attn.head_dim)  # (B, T, T)
        scores = scores.masked_fill(~allowed, float("-inf"))
        outputs.append(torch.softmax(scores, dim=-1) @ v[:, h])  # (B, T, hd)
    return attn.proj(torch.cat(outputs, dim=-1))  # concat: (B, T, H * hd)


# --8<-- [end:head_loop]


# --8<-- [start:expand_kv]
def expand_kv_heads(attn: MultiHeadAttention) -> MultiHeadAttention:
    """An ordinary multi-head layer (n_kv_heads = n_head) computing the same function
    as the grouped-query layer `attn`: each KV head's rows of W_K and W_V are
    copied to the `group` consecutive query heads that share it."""
    H, G, hd = attn.n_head, attn.n_kv_heads, attn.head_dim
    group = H // G
    w_q, w_k, w_v = attn.qkv.weight.split([H * hd, G * hd, G * hd])  # (heads * hd, C)
    w_k = w_k.view(G, hd, -1).repeat_interleave(group, dim=0).reshape(H * hd, -1)
    w_v = w_v.view(G, hd, -1).repeat_interleave(group, dim=0).reshape(H * hd, -1)
    full = MultiHeadAttention(
        GPTConfig(
            d_model=attn.qkv.in_features,
            n_head=H,
            head_dim=hd,
            bias=attn.qkv.bias is not None,
            attention="sdpa" if attn.use_sdpa else "explicit",
            dropout=attn.dropout,
        )
    )
    with torch.no_grad():
        full.qkv.weight.copy_(torch.cat([w_q, w_k, w_v]))
        if attn.qkv.bias is not None:
            b_q, b_k, b_v = attn.qkv.bias.split([H * hd, G * hd, G * hd])
            b_k, b_v = (b.view(G, hd).repeat_interleave(group, dim=0).flatten() for b in (b_k, b_v))
            full.qkv.bias.copy_(torch.cat([b_q, b_k, b_v]))
        full.proj.load_state_dict(attn.proj.state_dict())
    return full.train(attn.training)


# --8<-- [end:expand_kv]
