"""What grouped-query attention saves: KV-cache bytes and attention parameters.

The models measured are the published shapes in `groundup.pages.transformer.counting`. They
are only configs: building one of these models for real would need tens of
gigabytes, so parameters are counted on PyTorch's "meta" device, which records
every tensor's shape and allocates no memory.
"""

from __future__ import annotations

import torch

from groundup.model.attention import MultiHeadAttention
from groundup.model.config import GPTConfig
from groundup.model.gpt import GPT


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
