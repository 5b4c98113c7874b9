"""Where a transformer's parameters and FLOPs are, from its config alone.

Pure arithmetic on a `GPTConfig`: nothing is allocated, so the shapes of
billion-parameter models can be counted on a laptop. The tests check every
formula against `GPT(config).num_parameters()` and against PyTorch's own FLOP
counter on a real forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from groundup.model.config import GPTConfig


# --8<-- [start:parameter_count]
@dataclass(frozen=True)
class ParameterCount:
    """Parameters of a `GPT`, by component. Block fields are per block."""

    n_layer: int
    embedding: int  # token embedding E: V x d
    positions: int  # learned position table: block_size x d (0 for RoPE, ALiBi, ...)
    attn_qkv: int  # query, key and value projections
    attn_proj: int  # the output projection of attention
    mlp: int  # the feed-forward network
    norms: int  # the block's two norms
    final_norm: int  # the norm before the head
    head: int  # output head W: V x d, or 0 when tied to E

    @property
    def per_block(self) -> int:
        return self.attn_qkv + self.attn_proj + self.mlp + self.norms

    @property
    def blocks(self) -> int:
        return self.n_layer * self.per_block

    @property
    def total(self) -> int:
        return self.embedding + self.positions + self.blocks + self.final_norm + self.head


def linear_params(d_in: int, d_out: int, bias: bool) -> int:
    """nn.Linear(d_in, d_out): a d_out x d_in weight, plus d_out biases."""
    return d_in * d_out + (d_out if bias else 0)


def norm_params(config: GPTConfig) -> int:
    """LayerNorm: a gain and a bias per channel; RMSNorm: a gain only."""
    per_channel = {"layernorm": 2 if config.bias else 1, "rmsnorm": 1, "none": 0}[config.norm]
    return per_channel * config.d_model


def parameter_count(config: GPTConfig) -> ParameterCount:
    """Count the parameters `GPT(config)` has, without building it."""
    d, V, ff, b = config.d_model, config.vocab_size, config.hidden_size, config.bias
    q_dim = config.n_head * config.dim_per_head  # n_head query heads
    kv_dim = config.kv_heads * config.dim_per_head  # n_kv_heads key and value heads
    mlp = {
        "gelu": linear_params(d, ff, b) + linear_params(ff, d, b),  # fc, proj
        "swiglu": 2 * linear_params(d, ff, b) + linear_params(ff, d, b),  # gate, up, down
        "none": 0,
    }[config.mlp]
    return ParameterCount(
        n_layer=config.n_layer,
        embedding=V * d,
        positions=config.block_size * d if config.positions == "learned" else 0,
        attn_qkv=linear_params(d, q_dim + 2 * kv_dim, b),
        attn_proj=linear_params(q_dim, d, b),
        mlp=mlp,
        norms=2 * norm_params(config),
        final_norm=norm_params(config),
        head=0 if config.tie_weights else V * d,
    )


# --8<-- [end:parameter_count]


# --8<-- [start:flops]
@dataclass(frozen=True)
class FlopCount:
    """Forward matmul FLOPs per token for a context of `context` tokens."""

    context: int
    blocks: int  # 2 x (the weights of every block's linear layers)
    attention: int  # 2 x 2 x T x (n_head * head_dim) per layer: scores and weighted sum
    head: int  # 2 x V x d: a score for every vocabulary entry

    @property
    def total(self) -> int:
        return self.blocks + self.attention + self.head


def forward_flops_per_token(config: GPTConfig, context: int) -> FlopCount:
    """Matmul FLOPs of one forward pass per token, averaged over a sequence of
    `context` tokens. A multiply and an add count as 2 FLOPs; biases, norms,
    activations, softmax and the embedding lookup are not matmuls and are left out.
    The T x T scores are counted in full, masked half included, as an unfused
    computation does them."""
    if not 1 <= context <= config.block_size:
        raise ValueError(f"context must be in [1, block_size={config.block_size}], got {context}")
    no_bias = parameter_count(config.replace(bias=False))  # biases are added, not multiplied
    weights = no_bias.per_block - no_bias.norms  # one block's linear-layer weights
    attn_dim = config.n_head * config.dim_per_head
    return FlopCount(
        context=context,
        blocks=2 * config.n_layer * weights,
        attention=config.n_layer * 2 * 2 * context * attn_dim,
        head=2 * config.vocab_size * config.d_model,
    )


# --8<-- [end:flops]


def training_flops(n_params: int, n_tokens: int) -> int:
    """The 6 N D rule: forward 2 N per token, backward twice that, for D tokens."""
    return 6 * n_params * n_tokens


# --8<-- [start:shapes]
def published_shapes() -> dict[str, GPTConfig]:
    """The shapes of released models, as configs (building one allocates nothing)."""

    def gpt2(n_layer: int, n_head: int, d_model: int) -> GPTConfig:
        return GPTConfig.gpt2(
            vocab_size=50_257, block_size=1024, n_layer=n_layer, n_head=n_head, d_model=d_model
        )

    def llama(n_layer: int, n_head: int, d_model: int, d_ff: int, **kw: object) -> GPTConfig:
        shape: dict[str, object] = {"vocab_size": 32_000, "block_size": 4096, "norm_eps": 1e-5}
        return GPTConfig.llama(
            **{**shape, **kw}, n_layer=n_layer, n_head=n_head, d_model=d_model, d_ff=d_ff
        )

    return {
        "GPT-2 small": gpt2(12, 12, 768),
        "GPT-2 medium": gpt2(24, 16, 1024),
        "GPT-2 large": gpt2(36, 20, 1280),
        "GPT-2 XL": gpt2(48, 25, 1600),
        "Llama 2 7B": llama(32, 32, 4096, 11_008),
        "Llama 2 13B": llama(40, 40, 5120, 13_824),
        "Llama 2 70B": llama(80, 64, 8192, 28_672, n_kv_heads=8),
        "Llama 3 8B": llama(
            32,
            32,
            4096,
            14_336,
            n_kv_heads=8,
            vocab_size=128_256,
            block_size=8192,
            rope_theta=500_000.0,
        ),
    }


# --8<-- [end:shapes]
