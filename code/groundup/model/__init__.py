"""The decoder-only transformer: GPT-2 and Llama flavours of one `GPT` class."""

from groundup.model.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from groundup.model.block import Block
from groundup.model.config import GPTConfig
from groundup.model.gpt import GPT
from groundup.model.mlp import MLP, SwiGLU
from groundup.model.norms import LayerNorm, RMSNorm
from groundup.model.positions import (
    LearnedPositions,
    alibi_bias,
    alibi_slopes,
    apply_rope,
    rope_angles,
    sinusoidal_positions,
)

__all__ = [
    "GPT",
    "MLP",
    "Block",
    "GPTConfig",
    "LayerNorm",
    "LearnedPositions",
    "MultiHeadAttention",
    "RMSNorm",
    "SwiGLU",
    "alibi_bias",
    "alibi_slopes",
    "apply_rope",
    "causal_mask",
    "rope_angles",
    "scaled_dot_product_attention",
    "sinusoidal_positions",
]
