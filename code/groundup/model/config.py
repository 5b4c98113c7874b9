"""`GPTConfig`: every architectural choice of the decoder-only transformer in one dataclass.

The same `GPT` class builds a GPT-2 (LayerNorm, GELU, learned positions, tied
head) or a Llama (RMSNorm, SwiGLU, RoPE, grouped-query attention, untied head)
depending only on these fields; `GPTConfig.gpt2(...)` and `GPTConfig.llama(...)`
fill in each flavour's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

Norm = Literal["layernorm", "rmsnorm", "none"]
MLPKind = Literal["gelu", "swiglu", "none"]
Positions = Literal["learned", "sinusoidal", "rope", "alibi", "none"]
Attention = Literal["sdpa", "explicit"]


# --8<-- [start:config]
@dataclass(frozen=True)
class GPTConfig:
    """The shape and the choices of a decoder-only transformer."""

    vocab_size: int = 4096
    block_size: int = 256  # context length: the most positions one forward sees
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    n_kv_heads: int | None = None  # key/value heads: None = n_head (MHA), 1 = MQA, else GQA
    head_dim: int | None = None  # None = d_model // n_head
    d_ff: int | None = None  # MLP hidden size; None = 4 * d_model
    norm: Norm = "layernorm"
    mlp: MLPKind = "gelu"
    gelu_approximate: Literal["none", "tanh"] = "tanh"  # GPT-2 uses the tanh approximation
    positions: Positions = "learned"
    rope_theta: float = 10_000.0
    bias: bool = True  # biases in the linear layers and norms
    tie_weights: bool = True  # output head shares the token embedding matrix
    residual: bool = True  # False only to show what residual connections do
    norm_eps: float = 1e-5
    dropout: float = 0.0
    attention: Attention = "sdpa"  # "explicit" computes softmax(QK^T/sqrt(d_k))V step by step
    # --8<-- [end:config]

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.head_dim is None and self.d_model % self.n_head:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by n_head={self.n_head}; "
                f"set head_dim explicitly"
            )
        if self.n_head % self.kv_heads:
            raise ValueError(
                f"n_head={self.n_head} must be a multiple of n_kv_heads={self.kv_heads}"
            )
        if self.positions == "rope" and self.dim_per_head % 2:
            raise ValueError(f"RoPE needs an even head_dim, got {self.dim_per_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def kv_heads(self) -> int:
        """Number of key/value heads (n_head for ordinary multi-head attention)."""
        return self.n_head if self.n_kv_heads is None else self.n_kv_heads

    @property
    def dim_per_head(self) -> int:
        """Size of one head's query, key and value vectors."""
        return self.d_model // self.n_head if self.head_dim is None else self.head_dim

    @property
    def hidden_size(self) -> int:
        """Width of the MLP's hidden layer."""
        return 4 * self.d_model if self.d_ff is None else self.d_ff

    def replace(self, **changes: Any) -> GPTConfig:
        """A copy with some fields changed (the config is frozen)."""
        return replace(self, **changes)

    @classmethod
    def gpt2(cls, **overrides: Any) -> GPTConfig:
        """GPT-2's choices: LayerNorm, GELU (tanh), learned positions, biases, tied head."""
        defaults: dict[str, Any] = dict(
            norm="layernorm",
            mlp="gelu",
            gelu_approximate="tanh",
            positions="learned",
            bias=True,
            tie_weights=True,
            norm_eps=1e-5,
        )
        return cls(**{**defaults, **overrides})

    @classmethod
    def llama(cls, **overrides: Any) -> GPTConfig:
        """Llama's choices: RMSNorm, SwiGLU, RoPE, no biases, untied head."""
        d_model = overrides.get("d_model", cls.d_model)
        defaults: dict[str, Any] = dict(
            norm="rmsnorm",
            mlp="swiglu",
            positions="rope",
            bias=False,
            tie_weights=False,
            norm_eps=1e-6,
            d_ff=_swiglu_hidden(d_model),
        )
        return cls(**{**defaults, **overrides})


def _swiglu_hidden(d_model: int, multiple_of: int = 32) -> int:
    """Llama's MLP width: 2/3 of 4 * d_model (same parameters as a GELU MLP), rounded up."""
    hidden = int(2 * 4 * d_model / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)
