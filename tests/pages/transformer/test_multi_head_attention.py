"""docs/transformer/multi-head-attention.md: heads in one batched call, the
two-head toy, parameter counts, the causal mask and what it guarantees, the KV
cache of real configs, and grouped-query attention as MHA with copied K and V."""

from __future__ import annotations

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.model import (
    GPT,
    GPTConfig,
    MultiHeadAttention,
    causal_mask,
    scaled_dot_product_attention,
)
from groundup.model.config import Attention, Positions
from groundup.pages.transformer.counting import published_shapes
from groundup.pages.transformer.kv_budget import (
    attention_parameters,
    kv_cache_bytes_per_token,
    model_parameters,
)
from groundup.pages.transformer.multi_head_attention import attention_head_by_head, expand_kv_heads
from groundup.pages.transformer.toy_attention import (
    Head,
    first_positions,
    first_token_head,
    hand_set_attention,
    mass_on,
    previous_positions,
    previous_token_head,
    toy_inputs,
)

SHAPES = published_shapes()


# ------------------------------------------------------------ heads in one call
def test_shapes_of_one_forward_pass() -> None:
    attn = MultiHeadAttention(GPTConfig(d_model=128, n_head=4))
    x = torch.randn(2, 10, 128)
    assert attn.qkv(x).shape == (2, 10, 384)
    q, k, v = attn.heads(x)
    assert q.shape == k.shape == v.shape == (2, 4, 10, 32)
    assert attn(x).shape == (2, 10, 128)


@pytest.mark.parametrize("n_head,n_kv_heads", [(1, None), (4, None), (8, 2), (6, 1)])
@pytest.mark.parametrize("attention", ["sdpa", "explicit"])
def test_one_head_at_a_time_equals_all_heads_at_once(n_head, n_kv_heads, attention) -> None:
    torch.manual_seed(0)
    attn = MultiHeadAttention(
        GPTConfig(d_model=48, n_head=n_head, n_kv_heads=n_kv_heads, attention=attention)
    ).eval()
    x = torch.randn(3, 9, 48)
    with torch.no_grad():
        torch.testing.assert_close(attention_head_by_head(attn, x), attn(x), atol=1e-6, rtol=1e-5)


def test_head_loop_matches_a_loop_written_from_the_weights() -> None:
    """Independent of `heads`: slice each head's rows out of W_qkv by hand."""
    torch.manual_seed(1)
    C, H = 24, 3
    hd = C // H
    attn = MultiHeadAttention(GPTConfig(d_model=C, n_head=H)).eval()
    x = torch.randn(1, 5, C)
    W, b = attn.qkv.weight, attn.qkv.bias
    outs = []
    for h in range(H):
        rows = [slice(part * C + h * hd, part * C + (h + 1) * hd) for part in range(3)]
        q, k, v = (x[0] @ W[r].T + b[r] for r in rows)
        outs.append(scaled_dot_product_attention(q, k, v)[0])
    expected = attn.proj(torch.cat(outs, -1))
    with torch.no_grad():
        torch.testing.assert_close(
            attention_head_by_head(attn, x)[0], expected, atol=1e-6, rtol=1e-5
        )


# ------------------------------------------------------------ two heads, two jobs
PAGE_IDS = [0, 1, 2, 3, 4, 5, 2, 6, 7, 8, 9, 10]  # the page's sentence, as toy ids


def test_two_heads_do_their_two_jobs() -> None:
    width = len(PAGE_IDS)
    layer = hand_set_attention([previous_token_head(width), first_token_head(width)])
    x = toy_inputs(PAGE_IDS, width)
    with torch.no_grad():
        W = layer.attention_weights(x)[0]
        out = layer(x)[0]
    assert mass_on(W[0], previous_positions(width)).min().item() > 0.999
    assert mass_on(W[1], first_positions(width)).min().item() > 0.999
    previous = [PAGE_IDS[max(i - 1, 0)] for i in range(width)]
    assert out[:, :width].argmax(-1).tolist() == previous  # head 1's half
    assert out[:, width:].argmax(-1).tolist() == [PAGE_IDS[0]] * width  # head 2's half


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=1, max_size=16))
def test_two_heads_on_any_sequence(ids: list[int]) -> None:
    layer = hand_set_attention([previous_token_head(16), first_token_head(16)])
    with torch.no_grad():
        W = layer.attention_weights(toy_inputs(ids, 16))[0]
    assert mass_on(W[0], previous_positions(len(ids))).min().item() > 0.998
    assert mass_on(W[1], first_positions(len(ids))).min().item() > 0.998


def test_one_head_asked_for_both_splits_and_blends() -> None:
    width = len(PAGE_IDS)
    prev, first = previous_token_head(width), first_token_head(width)
    both = Head(prev.w_q + first.w_q, prev.w_k, prev.w_v)
    x = toy_inputs(PAGE_IDS, width)[0]
    out, W = scaled_dot_product_attention(x @ both.w_q.T, x @ both.w_k.T, x @ both.w_v.T)
    last = width - 1
    assert W[last, 0].item() == pytest.approx(0.5, abs=1e-3)
    assert W[last, last - 1].item() == pytest.approx(0.5, abs=1e-3)
    blend = torch.zeros(width)
    blend[PAGE_IDS[0]] += 0.5
    blend[PAGE_IDS[last - 1]] += 0.5
    torch.testing.assert_close(out[last], blend, atol=1e-3, rtol=0)


# ------------------------------------------------------------ parameters
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count_does_not_depend_on_the_number_of_heads(bias: bool) -> None:
    d = 768
    for n_head in (1, 2, 4, 12, 24):
        layer = MultiHeadAttention(GPTConfig(d_model=d, n_head=n_head, bias=bias))
        assert sum(p.numel() for p in layer.parameters()) == 4 * d * d + (4 * d if bias else 0)


# ------------------------------------------------------------ causal masking
def test_mask_is_lower_triangular_and_masked_softmax_rows_sum_to_one() -> None:
    mask = causal_mask(6, 6)
    assert mask.tolist() == [[j <= i for j in range(6)] for i in range(6)]
    scores = torch.randn(4, 4, generator=torch.Generator().manual_seed(3)).round(decimals=1)
    w = torch.softmax(scores.masked_fill(~causal_mask(4, 4), float("-inf")), -1)
    assert (w[~causal_mask(4, 4)] == 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(4))
    assert w[0, 0].item() == 1.0
    # zeroing after the softmax instead leaves rows that do not sum to 1
    after = torch.softmax(scores, -1) * causal_mask(4, 4)
    assert (after.sum(-1)[:3] < 0.999).all()


@functools.cache
def page_model(
    attention: Attention = "sdpa", positions: Positions = "learned", vocab_size: int = 4096
) -> GPT:
    torch.manual_seed(0)
    return GPT(
        GPTConfig(
            vocab_size=vocab_size,
            block_size=32,
            n_layer=4,
            n_head=4,
            d_model=64,
            attention=attention,
            positions=positions,
        )
    ).eval()


def test_page_example_earlier_logits_are_bit_for_bit_unchanged() -> None:
    model = page_model()
    idx = torch.randint(0, 4096, (1, 24), generator=torch.Generator().manual_seed(1))
    edited = idx.clone()
    edited[0, 12] = (idx[0, 12] + 1) % 4096
    with torch.no_grad():
        a, b = model(idx)[0], model(edited)[0]
    assert torch.equal(a[:, :12], b[:, :12])
    assert ((a[0, 12:] - b[0, 12:]).abs().amax(-1) > 0).all()


@pytest.mark.parametrize("attention", ["sdpa", "explicit"])
@pytest.mark.parametrize("positions", ["learned", "sinusoidal", "rope", "alibi", "none"])
def test_changing_a_token_changes_no_earlier_output(attention, positions) -> None:
    model = page_model(attention, positions, vocab_size=97)
    idx = torch.randint(0, 97, (2, 16), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        a = model(idx)[0]
        for at in range(16):  # every position
            edited = idx.clone()
            edited[:, at] = (idx[:, at] + 1) % 97
            b = model(edited)[0]
            assert torch.equal(a[:, :at], b[:, :at])
            assert ((a[:, at:] - b[:, at:]).abs().amax(-1) > 0).all()


# ------------------------------------------------------------ KV cache and GQA
def test_published_configs_have_the_published_parameter_counts() -> None:
    assert model_parameters(SHAPES["GPT-2 small"]) == 124_439_808
    assert model_parameters(SHAPES["Llama 2 7B"]) == 6_738_415_616
    assert model_parameters(SHAPES["Llama 3 8B"]) == 8_030_261_248
    assert model_parameters(SHAPES["Llama 2 70B"]) == 68_976_648_192


def test_kv_cache_bytes_of_the_published_configs() -> None:
    names = ("GPT-2 small", "Llama 2 7B", "Llama 3 8B", "Llama 2 70B")
    kv = {name: kv_cache_bytes_per_token(SHAPES[name]) for name in names}
    assert kv == {
        "GPT-2 small": 36_864,
        "Llama 2 7B": 524_288,
        "Llama 3 8B": 131_072,
        "Llama 2 70B": 327_680,
    }
    big = SHAPES["Llama 2 70B"]
    assert kv_cache_bytes_per_token(big.replace(n_kv_heads=None)) == 8 * kv["Llama 2 70B"]
    assert kv["Llama 2 70B"] < kv["Llama 2 7B"]
    assert kv_cache_bytes_per_token(SHAPES["Llama 2 7B"].replace(n_kv_heads=1)) == 16 * 1024
    assert kv_cache_bytes_per_token(big, bytes_per_value=4) == 2 * kv["Llama 2 70B"]


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])
def test_kv_cache_bytes_match_what_transformers_caches(n_kv_heads: int) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from groundup.model.hf import config_from_hf

    torch.manual_seed(0)
    hf_config = LlamaConfig(
        vocab_size=100,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=n_kv_heads,
        max_position_embeddings=32,
    )
    model = LlamaForCausalLM(hf_config).eval()
    T = 10
    with torch.no_grad():
        result = model(torch.randint(0, 100, (1, T)), use_cache=True)
    cache = getattr(result, "cache", None) or result.past_key_values
    stored = sum(
        t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values)
    )
    ours = config_from_hf(hf_config.to_dict())
    assert stored == T * kv_cache_bytes_per_token(ours, bytes_per_value=4)


def test_attention_parameters_on_the_meta_device() -> None:
    small = GPTConfig(d_model=64, n_head=8, n_kv_heads=2)
    assert attention_parameters(small) == sum(
        p.numel() for p in MultiHeadAttention(small).parameters()
    )
    big = SHAPES["Llama 2 70B"]
    d, hd = big.d_model, big.dim_per_head
    assert (
        attention_parameters(big)
        == d * (big.n_head * hd + 2 * big.kv_heads * hd) + big.n_head * hd * d
    )
    saved = attention_parameters(big.replace(n_kv_heads=None)) - attention_parameters(big)
    assert saved == 2 * d * (big.n_head - big.kv_heads) * hd


@pytest.mark.parametrize("n_head,n_kv_heads", [(8, 2), (8, 1), (6, 3), (4, 4)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("attention", ["sdpa", "explicit"])
def test_gqa_equals_mha_with_copied_kv_weights(n_head, n_kv_heads, bias, attention) -> None:
    torch.manual_seed(0)
    gqa = MultiHeadAttention(
        GPTConfig(d_model=48, n_head=n_head, n_kv_heads=n_kv_heads, bias=bias, attention=attention)
    ).eval()
    mha = expand_kv_heads(gqa)
    assert mha.n_kv_heads == n_head and not mha.training
    x = torch.randn(2, 7, 48)
    with torch.no_grad():
        torch.testing.assert_close(mha(x), gqa(x), atol=1e-6, rtol=1e-5)
        _, k, v = mha.heads(x)
    group = n_head // n_kv_heads
    for h in range(n_head):  # heads in one group share their keys and values
        torch.testing.assert_close(k[:, h], k[:, (h // group) * group])
        torch.testing.assert_close(v[:, h], v[:, (h // group) * group])
    n_gqa = sum(p.numel() for p in gqa.parameters())
    n_mha = sum(p.numel() for p in mha.parameters())
    hd = 48 // n_head
    assert n_mha - n_gqa == 2 * 48 * (n_head - n_kv_heads) * hd + (
        2 * (n_head - n_kv_heads) * hd if bias else 0
    )


def test_gqa_equals_pytorch_sdpa_with_enable_gqa() -> None:
    torch.manual_seed(0)
    gqa = MultiHeadAttention(GPTConfig(d_model=128, n_head=8, n_kv_heads=2)).eval()
    x = torch.randn(2, 10, 128)
    hd = gqa.head_dim
    with torch.no_grad():
        q, k, v = gqa.qkv(x).split([8 * hd, 2 * hd, 2 * hd], dim=-1)
        q = q.view(2, 10, 8, hd).transpose(1, 2)
        k, v = (t.view(2, 10, 2, hd).transpose(1, 2) for t in (k, v))
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        torch.testing.assert_close(gqa(x), gqa.proj(ref.transpose(1, 2).reshape(2, 10, 8 * hd)))
    assert math.isclose(sum(p.numel() for p in gqa.parameters()), 41_280)
