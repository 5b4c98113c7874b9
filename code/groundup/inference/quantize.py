"""Weight-only int8 quantization: each linear layer's weight stored as int8 with one
float32 scale per output row, dequantized on the fly; activations stay float.

A weight row w (in,) becomes q = round(w / s) in [-127, 127] with s = max|w| / 127,
so every element is off by at most s / 2, and the matrix takes a quarter of the
float32 bytes (plus 4 per row for the scale).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from groundup.model.gpt import GPT


# --8<-- [start:quantize_int8]
def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric absmax quantization of a float weight w (out, in), one scale per row.

    Returns q (out, in) int8 in [-127, 127] and scale (out,) float32 such that
    |w - q * scale[:, None]| <= scale / 2 elementwise. An all-zero row gets scale 1
    (and q = 0), which is exact.
    """
    if not isinstance(w, torch.Tensor) or not w.is_floating_point():
        kind = w.dtype if isinstance(w, torch.Tensor) else type(w).__name__
        raise ValueError(f"quantize_int8 needs a floating-point tensor, got {kind}")
    if w.dim() != 2 or w.size(1) == 0:
        raise ValueError(f"quantize_int8 needs a 2-D (out, in) weight, got shape {tuple(w.shape)}")
    w = w.detach().float()
    if not bool(torch.isfinite(w).all()):
        raise ValueError("quantize_int8 got a weight with inf or nan entries")
    absmax = w.abs().amax(dim=1)  # (out,)
    scale = torch.where(absmax > 0, absmax / 127.0, torch.ones_like(absmax))
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scale


# --8<-- [end:quantize_int8]


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """q (out, in) int8 and scale (out,) -> the float32 weight q * scale[:, None] (out, in)."""
    if q.dtype != torch.int8 or q.dim() != 2 or tuple(scale.shape) != (q.size(0),):
        raise ValueError(
            f"dequantize_int8 needs q (out, in) int8 and scale (out,), got q "
            f"{tuple(q.shape)} {q.dtype} and scale {tuple(scale.shape)}"
        )
    return q.float() * scale.float()[:, None]


class Int8Linear(nn.Module):
    """A linear layer whose weight is int8 with a per-output-row scale (weight only).

    x (..., in) -> x @ (q * scale[:, None]).T + bias, (..., out), computed as
    F.linear(x, q) * scale in x's dtype. Buffers: weight_int8 (out, in) int8 and
    scale (out,) float32; bias (out,) stays a float parameter. There is no `weight`
    attribute: reading one would mean dequantizing the whole matrix.
    `.to(dtype)` casts scale and bias like any float tensor; weight_int8 stays int8.
    """

    weight_int8: torch.Tensor
    scale: torch.Tensor

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        dequantize_int8(q, scale)  # checks the shapes and dtype (the result is dropped)
        self.out_features, self.in_features = q.shape
        self.register_buffer("weight_int8", q)
        self.register_buffer("scale", scale)
        self.bias = None if bias is None else nn.Parameter(bias)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        """Quantize an nn.Linear; the result shares no memory with it (same device,
        bias dtype and train/eval mode)."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"from_linear needs an nn.Linear, got {type(linear).__name__}")
        q, scale = quantize_int8(linear.weight)
        bias = None if linear.bias is None else linear.bias.detach().clone()
        return cls(q, scale, bias).train(linear.training)

    # --8<-- [start:int8_forward]
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight_int8.to(x.dtype)) * self.scale.to(x.dtype)
        return out if self.bias is None else out + self.bias

    # --8<-- [end:int8_forward]

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _swap_linears(module: nn.Module) -> None:
    """Replace every nn.Linear under module by an Int8Linear, in place."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear.from_linear(child))
        else:
            _swap_linears(child)


# --8<-- [start:quantize_model]
def quantize_model(model: GPT) -> GPT:
    """A new GPT (a deep copy; model is untouched) in which every nn.Linear in the
    blocks and the output head is an Int8Linear. Embeddings and norms stay float,
    and so does the train/eval mode.

    A tied head (config.tie_weights) is untied: the embedding lookup keeps the float
    matrix and the head gets its own int8 copy of it, so the tied model grows by
    vocab_size * (d_model + 4) bytes there, while each block matrix shrinks to a
    quarter. config is copied as is. Meant for inference, not training.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"quantize_model needs a GPT, got {type(model).__name__}")
    quantized = copy.deepcopy(model)
    _swap_linears(quantized.blocks)
    # GPT types head as nn.Linear; Int8Linear is called the same way (it has no .weight)
    quantized.head = Int8Linear.from_linear(quantized.head)  # type: ignore[assignment]
    return quantized


# --8<-- [end:quantize_model]


# --8<-- [start:weight_bytes]
def weight_bytes(model: nn.Module) -> int:
    """Bytes held by model's parameters and persistent buffers (what its state_dict
    saves), a tensor shared by several names (a tied head) counted once."""
    tensors = {id(t): t for t in model.state_dict(keep_vars=True).values()}
    return sum(t.numel() * t.element_size() for t in tensors.values())


# --8<-- [end:weight_bytes]
