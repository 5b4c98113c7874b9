"""LayerNorm and RMSNorm, written out.

Both rescale each position's vector (the last dimension) to a standard size, so
that activations neither grow nor shrink as they pass through many layers.
"""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:layernorm]
class LayerNorm(nn.Module):
    """y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over the last dim.

    x: (..., C) -> (..., C). The variance is the biased one (divide by C), as in
    `torch.nn.LayerNorm`.
    """

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)  # biased: / C
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight
        return y if self.bias is None else y + self.bias


# --8<-- [end:layernorm]


# --8<-- [start:rmsnorm]
class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight, over the last dim.

    No mean subtraction and no bias: cheaper than LayerNorm and, in practice,
    as good. x: (..., C) -> (..., C). Computed in float32 like Llama does.
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)


# --8<-- [end:rmsnorm]
