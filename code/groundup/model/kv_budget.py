"""What grouped-query attention saves: KV-cache bytes and attention parameters.

The configs below are the published shapes of real models. They are only
configs: building one of these models for real would need tens of gigabytes,
so parameters are counted on PyTorch's "meta" device, which records every
tensor's shape and allocates no memory.
"""

from __future__ import annotations

import torch

from groundup.model.attention import MultiHeadAttention
from groundup.model.config import GPTConfig
from groundup.model.gpt import GPT

# --8<-- [start:published]
PUBLISHED: dict[str, GPTConfig] = {
    "GPT-2 small": GPTConfig.gpt2(
        vocab_size=50_257, block_size=1024, n_layer=12, n_head=12, d_model=768),
    "Llama-2-7B": GPTConfig.llama(
        vocab_size=32_000, block_size=4096, n_layer=32, n_head=32, d_model=4096, d_ff=11_008),
    "Llama-3-8B": GPTConfig.llama(
        vocab_size=128_256, block_size=8192, n_layer=32, n_head=32, n_kv_heads=8,
        d_model=4096, d_ff=14_336, rope_theta=500_000.0),
    "Llama-2-70B": GPTConfig.llama(
        vocab_size=32_000, block_size=4096, n_layer=80, n_head=64, n_kv_heads=8,
        d_model=8192, d_ff=28_672),
}
# --8<-- [end:published]


# --8<-- [start:kv_bytes]
def kv_cache_bytes_per_token(config: GPTConfig, bytes_per_value: int = 2) -> int:
    """Bytes one token adds to the KV cache: in every layer, one key and one value
    vector of head_dim numbers per KV head (2 bytes a number in fp16 or bf16)."""
    return 2 * config.n_layer * config.kv_heads * config.dim_per_head * bytes_per_value
# --8<-- [end:kv_bytes]


def attention_parameters(config: GPTConfig) -> int:
    """Parameters of one attention layer of `config`, counted on the meta device."""
    with torch.device("meta"):
        attn = MultiHeadAttention(config)
    return sum(p.numel() for p in attn.parameters())


def model_parameters(config: GPTConfig) -> int:
    """Parameters of the whole model, counted on the meta device."""
    with torch.device("meta"):
        model = GPT(config)
    return model.num_parameters()
