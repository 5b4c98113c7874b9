"""`groundup.pages.transformer.counting`: parameter and FLOP counts from a config, checked against
the real `GPT` and against PyTorch's FLOP counter, and the claims
docs/transformer/layers-blocks-heads.md makes with them."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from groundup.model import GPT, GPTConfig
from groundup.model.config import Positions
from groundup.pages.transformer.counting import (
    forward_flops_per_token,
    parameter_count,
    published_shapes,
    training_flops,
)

# Parameter counts of the released checkpoints (as Hugging Face `transformers`
# reports them with `num_parameters()`; GPT-2's head is tied, Llama's is not).
RELEASED = {
    "GPT-2 small": 124_439_808,
    "GPT-2 medium": 354_823_168,
    "GPT-2 large": 774_030_080,
    "GPT-2 XL": 1_557_611_200,
    "Llama 2 7B": 6_738_415_616,
    "Llama 2 13B": 13_015_864_320,
    "Llama 2 70B": 68_976_648_192,
    "Llama 3 8B": 8_030_261_248,
}


@st.composite
def configs(draw: st.DrawFn, max_layers: int = 3) -> GPTConfig:
    """Small configs covering every choice that changes a parameter count."""
    n_kv = draw(st.sampled_from([1, 2, 4]))
    n_head = n_kv * draw(st.integers(1, 3))
    head_dim = draw(st.sampled_from([None, 4, 6]))
    d_model = (
        n_head * draw(st.sampled_from([2, 4])) if head_dim is None else draw(st.integers(4, 24))
    )
    positions: Positions = draw(st.sampled_from(["learned", "sinusoidal", "rope", "alibi", "none"]))
    if positions == "rope" and (head_dim or d_model // n_head) % 2:
        positions = "learned"
    return GPTConfig(
        vocab_size=draw(st.integers(2, 70)),
        block_size=draw(st.integers(4, 24)),
        n_layer=draw(st.integers(1, max_layers)),
        n_head=n_head,
        n_kv_heads=draw(st.sampled_from([None, n_kv])),
        head_dim=head_dim,
        d_model=d_model,
        d_ff=draw(st.sampled_from([None, 5, 12])),
        norm=draw(st.sampled_from(["layernorm", "rmsnorm", "none"])),
        mlp=draw(st.sampled_from(["gelu", "swiglu", "none"])),
        positions=positions,
        bias=draw(st.booleans()),
        tie_weights=draw(st.booleans()),
        attention="explicit",
    )


def numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------ parameters
@given(configs())
@settings(max_examples=150, deadline=None)
def test_parameter_count_equals_the_real_model(config: GPTConfig) -> None:
    assert parameter_count(config).total == GPT(config).num_parameters()


@given(configs(max_layers=2))
@settings(max_examples=60, deadline=None)
def test_each_component_equals_the_modules_it_counts(config: GPTConfig) -> None:
    model, p = GPT(config), parameter_count(config)
    block = model.layers[0]
    assert p.embedding == model.tok_emb.weight.numel()
    assert p.positions == (model.pos_emb.weight.numel() if config.positions == "learned" else 0)
    assert p.attn_qkv == numel(block.attn.qkv)
    assert p.attn_proj == numel(block.attn.proj)
    assert p.mlp == (numel(block.mlp) if block.mlp is not None else 0)
    assert p.norms == numel(block.norm1) + numel(block.norm2)
    assert p.final_norm == numel(model.norm_f)
    assert p.head == (0 if config.tie_weights else model.head.weight.numel())
    assert p.per_block == numel(block) and p.blocks == numel(model.blocks)


def test_gpt2_small_built_for_real_has_124_439_808_parameters() -> None:
    config = GPTConfig.gpt2(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, d_model=768)
    assert config == published_shapes()["GPT-2 small"]
    model = GPT(config)
    assert model.num_parameters() == parameter_count(config).total == 124_439_808
    assert model.head.weight is model.tok_emb.weight


@pytest.mark.parametrize("name", list(RELEASED))
def test_published_shapes_have_the_released_counts(name: str) -> None:
    config = published_shapes()[name]
    with torch.device("meta"):
        built = GPT(config).num_parameters()
    assert built == parameter_count(config).total == RELEASED[name]


def test_released_counts_match_transformers_models_of_the_same_shape() -> None:
    """The reference implementations, built on the meta device, agree with RELEASED."""
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedConfig,
        PreTrainedModel,
    )

    for name, c in published_shapes().items():
        if name.startswith("GPT-2"):
            hf: PreTrainedConfig = GPT2Config(
                vocab_size=c.vocab_size,
                n_positions=c.block_size,
                n_layer=c.n_layer,
                n_head=c.n_head,
                n_embd=c.d_model,
            )
            cls: type[PreTrainedModel] = GPT2LMHeadModel
        else:
            hf = LlamaConfig(
                vocab_size=c.vocab_size,
                max_position_embeddings=c.block_size,
                hidden_size=c.d_model,
                intermediate_size=c.hidden_size,
                num_hidden_layers=c.n_layer,
                num_attention_heads=c.n_head,
                num_key_value_heads=c.kv_heads,
                tie_word_embeddings=False,
            )
            cls = LlamaForCausalLM
        with torch.device("meta"):
            assert cls(hf).num_parameters() == RELEASED[name], name


def test_published_shapes_are_the_documented_ones() -> None:
    s = published_shapes()
    assert [(s[n].n_layer, s[n].n_head, s[n].d_model) for n in s if n.startswith("GPT-2")] == [
        (12, 12, 768),
        (24, 16, 1024),
        (36, 20, 1280),
        (48, 25, 1600),
    ]
    assert all(s[n].tie_weights and s[n].norm == "layernorm" for n in s if n.startswith("GPT-2"))
    llama = [s[n] for n in s if n.startswith("Llama")]
    assert all(not c.tie_weights and c.mlp == "swiglu" and c.positions == "rope" for c in llama)
    assert (s["Llama 2 70B"].kv_heads, s["Llama 3 8B"].kv_heads, s["Llama 2 7B"].kv_heads) == (
        8,
        8,
        32,
    )


def test_twelve_l_d_squared_estimate() -> None:
    s = published_shapes()
    for name, c in s.items():
        estimate = 12 * c.n_layer * c.d_model**2 + c.vocab_size * c.d_model * (
            1 if c.tie_weights else 2
        )
        error = abs(estimate / parameter_count(c).total - 1)
        assert error < (0.01 if name.startswith("GPT-2") else 0.07), name
    # a GPT-2 block is 12 d^2 weights, plus biases and norms
    c = s["GPT-2 small"]
    no_bias = parameter_count(c.replace(bias=False))
    assert no_bias.per_block - no_bias.norms == 12 * c.d_model**2


def test_heads_cost_nothing_and_fewer_kv_heads_save() -> None:
    gpt2 = published_shapes()["GPT-2 small"]
    assert len({parameter_count(gpt2.replace(n_head=h)).total for h in (1, 12, 48)}) == 1
    llama3 = published_shapes()["Llama 3 8B"]
    totals = [parameter_count(llama3.replace(n_kv_heads=k)).total for k in (32, 8, 1)]
    assert totals[0] > totals[1] > totals[2]
    d, hd = llama3.d_model, llama3.dim_per_head
    assert totals[0] - totals[1] == llama3.n_layer * 2 * d * (32 - 8) * hd


def test_embedding_share_shrinks_with_size_unless_the_vocabulary_grows() -> None:
    s = published_shapes()

    def share(name: str) -> float:
        p = parameter_count(s[name])
        return (p.embedding + p.positions + p.head) / p.total

    gpt2 = [share(n) for n in ("GPT-2 small", "GPT-2 medium", "GPT-2 large", "GPT-2 XL")]
    llama2 = [share(n) for n in ("Llama 2 7B", "Llama 2 13B", "Llama 2 70B")]
    assert gpt2 == sorted(gpt2, reverse=True) and llama2 == sorted(llama2, reverse=True)
    assert share("Llama 3 8B") > 3 * share("Llama 2 7B")
    assert round(s["Llama 3 8B"].vocab_size / s["Llama 2 7B"].vocab_size) == 4


def test_mlp_holds_about_two_thirds_of_a_gpt2_block() -> None:
    for name in ("GPT-2 small", "GPT-2 XL"):
        p = parameter_count(published_shapes()[name])
        assert abs(p.mlp / p.per_block - 2 / 3) < 0.01
    # and the MLP holds most of every published block
    assert all(p.mlp > p.per_block / 2 for p in map(parameter_count, published_shapes().values()))


# ------------------------------------------------------------------ FLOPs
@given(configs(max_layers=2), st.integers(1, 3), st.data())
@settings(max_examples=60, deadline=None)
def test_forward_flops_equal_pytorchs_flop_counter(config: GPTConfig, batch: int, data) -> None:
    T = data.draw(st.integers(1, config.block_size))
    model = GPT(config)
    idx = torch.randint(0, config.vocab_size, (batch, T))
    with FlopCounterMode(display=False) as counter:
        model(idx)
    assert counter.get_total_flops() == batch * T * forward_flops_per_token(config, T).total


@given(configs(max_layers=2))
@settings(max_examples=25, deadline=None)
def test_training_step_is_three_forward_passes(config: GPTConfig) -> None:
    torch.manual_seed(0)
    model = GPT(config)
    idx = torch.randint(0, config.vocab_size, (2, config.block_size))
    with FlopCounterMode(display=False) as forward:
        model(idx)
    with FlopCounterMode(display=False) as step:
        model(idx, idx)[1].backward()
    assert step.get_total_flops() == 3 * forward.get_total_flops()


def test_flop_terms_by_hand_for_gpt2_small() -> None:
    c = published_shapes()["GPT-2 small"]
    f = forward_flops_per_token(c, 1024)
    assert f.blocks == 2 * 12 * 12 * 768**2
    assert f.attention == 12 * 4 * 1024 * 768
    assert f.head == 2 * 50257 * 768
    assert f.total == f.blocks + f.attention + f.head


def test_forward_flops_reject_a_context_outside_the_block() -> None:
    c = GPTConfig(block_size=8)
    for bad in (0, 9):
        with pytest.raises(ValueError, match="context"):
            forward_flops_per_token(c, bad)


def test_attention_share_grows_with_context() -> None:
    for name in ("GPT-2 small", "Llama 2 7B"):
        c = published_shapes()[name].replace(block_size=2**17)
        shares = [(f := forward_flops_per_token(c, 2**k)).attention / f.total for k in range(7, 18)]
        assert shares == sorted(shares) and shares[0] < 0.05 and shares[-1] > 0.5


def test_six_n_d_and_what_it_leaves_out() -> None:
    assert training_flops(10, 7) == 420
    s = published_shapes()
    for name in ("GPT-2 small", "Llama 2 7B"):
        c = s[name]
        exact = 3 * forward_flops_per_token(c, c.block_size).total
        assert exact > 6 * parameter_count(c).total  # the attention term pushes it above
    assert 8.0e22 < training_flops(parameter_count(s["Llama 2 7B"]).total, 2 * 10**12) < 8.2e22
