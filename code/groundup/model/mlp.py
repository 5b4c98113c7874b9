"""The position-wise feed-forward network (MLP): GELU (GPT-2) and SwiGLU (Llama)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from groundup.model.config import GPTConfig


# --8<-- [start:mlp]
class MLP(nn.Module):
    """x -> proj(gelu(fc(x))): widen to d_ff, apply GELU, project back. (B, T, C) -> (B, T, C)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.d_model, config.hidden_size, bias=config.bias)
        self.proj = nn.Linear(config.hidden_size, config.d_model, bias=config.bias)
        self.approximate = config.gelu_approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x), approximate=self.approximate))


# --8<-- [end:mlp]


# --8<-- [start:swiglu]
class SwiGLU(nn.Module):
    """x -> down(silu(gate(x)) * up(x)): a gated MLP. (B, T, C) -> (B, T, C).

    One branch (`up`) carries the values, the other (`gate`, through SiLU)
    decides, per hidden unit, how much of each to let through.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.gate = nn.Linear(config.d_model, config.hidden_size, bias=config.bias)
        self.up = nn.Linear(config.d_model, config.hidden_size, bias=config.bias)
        self.down = nn.Linear(config.hidden_size, config.d_model, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


# --8<-- [end:swiglu]
