"""A pre-norm transformer block: attention and an MLP, each wrapped in a residual."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from groundup.model.attention import MultiHeadAttention
from groundup.model.config import GPTConfig
from groundup.model.mlp import MLP, SwiGLU
from groundup.model.norms import LayerNorm, RMSNorm

if TYPE_CHECKING:
    from groundup.inference.kv_cache import LayerCache


def make_norm(config: GPTConfig) -> nn.Module:
    """The normalisation layer the config asks for (Identity for "none")."""
    if config.norm == "layernorm":
        return LayerNorm(config.d_model, eps=config.norm_eps, bias=config.bias)
    if config.norm == "rmsnorm":
        return RMSNorm(config.d_model, eps=config.norm_eps)
    return nn.Identity()


def make_mlp(config: GPTConfig) -> nn.Module | None:
    """The feed-forward layer the config asks for (None for "none")."""
    if config.mlp == "gelu":
        return MLP(config)
    if config.mlp == "swiglu":
        return SwiGLU(config)
    return None


# --8<-- [start:block]
class Block(nn.Module):
    """x + attn(norm1(x)), then x + mlp(norm2(x)). (B, T, C) -> (B, T, C).

    The residual stream x flows straight through; each sublayer reads a
    normalised copy of it and adds its result back.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.norm1 = make_norm(config)
        self.attn = MultiHeadAttention(config)
        self.norm2 = make_norm(config)
        self.mlp = make_mlp(config)
        self.residual = config.residual
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        mask: torch.Tensor | None = None,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        a = self.dropout(self.attn(self.norm1(x), rope, mask, cache))
        x = x + a if self.residual else a
        if self.mlp is not None:
            m = self.dropout(self.mlp(self.norm2(x)))
            x = x + m if self.residual else m
        return x


# --8<-- [end:block]
