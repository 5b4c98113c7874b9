"""Each piece of the model against torch's module, an independent formula, or a
property it must have."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.model import (
    GPT,
    GPTConfig,
    LayerNorm,
    MultiHeadAttention,
    RMSNorm,
    alibi_bias,
    alibi_slopes,
    apply_rope,
    causal_mask,
    rope_angles,
    scaled_dot_product_attention,
    sinusoidal_positions,
)
from model_shapes import Shape

TINY = Shape(vocab_size=61, block_size=16, n_layer=2, n_head=4, d_model=32)


# ----------------------------------------------------------------------- norms
@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_matches_torch(bias):
    torch.manual_seed(0)
    ours, ref = LayerNorm(24, eps=1e-5, bias=bias), torch.nn.LayerNorm(24, eps=1e-5, bias=bias)
    with torch.no_grad():
        ours.weight.normal_()
        ref.weight.copy_(ours.weight)
        if bias:
            assert ours.bias is not None
            ours.bias.normal_()
            ref.bias.copy_(ours.bias)
    x = 3 + 5 * torch.randn(4, 7, 24)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_rmsnorm_matches_torch():
    torch.manual_seed(0)
    ours, ref = RMSNorm(24, eps=1e-6), torch.nn.RMSNorm(24, eps=1e-6)
    with torch.no_grad():
        ours.weight.normal_()
        ref.weight.copy_(ours.weight)
    x = 5 * torch.randn(4, 7, 24)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_norms_standardise_each_vector():
    x = 10 + 4 * torch.randn(3, 5, 64)
    y = LayerNorm(64)(x)
    torch.testing.assert_close(y.mean(-1), torch.zeros(3, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(3, 5), atol=1e-3, rtol=0)
    z = RMSNorm(64)(x)
    torch.testing.assert_close(z.pow(2).mean(-1), torch.ones(3, 5), atol=1e-3, rtol=0)


# ------------------------------------------------------------------- positions
def test_sinusoidal_matches_the_formula_written_as_loops():
    P, d = 12, 10
    pe = sinusoidal_positions(P, d)
    for p in range(P):
        for i in range(d // 2):
            angle = p / 10_000 ** (2 * i / d)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_odd_dim():
    assert sinusoidal_positions(5, 7).shape == (5, 7)


def test_rope_matches_hugging_face():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    torch.manual_seed(0)
    q, k = torch.randn(2, 3, 9, 16), torch.randn(2, 3, 9, 16)
    cos, sin = rope_angles(9, 16, theta=10_000.0)
    hq, hk = apply_rotary_pos_emb(q, k, cos[None], sin[None])
    torch.testing.assert_close(apply_rope(q, cos, sin), hq)
    torch.testing.assert_close(apply_rope(k, cos, sin), hk)


def test_rope_is_a_rotation_and_depends_only_on_the_offset():
    torch.manual_seed(0)
    cos, sin = rope_angles(64, 8)
    q, k = torch.randn(8), torch.randn(8)

    def rotated(x: torch.Tensor, p: int) -> torch.Tensor:
        return apply_rope(x.expand(1, 1, 64, 8), cos, sin)[0, 0, p]

    assert rotated(q, 37).norm().item() == pytest.approx(q.norm().item(), rel=1e-5)
    scores = {
        (m, n): (rotated(q, m) @ rotated(k, n)).item() for m, n in [(5, 2), (40, 37), (63, 60)]
    }
    assert scores[(5, 2)] == pytest.approx(scores[(40, 37)], abs=1e-4)
    assert scores[(5, 2)] == pytest.approx(scores[(63, 60)], abs=1e-4)


@pytest.mark.parametrize("n_head", [1, 2, 3, 4, 6, 8, 12, 16])
def test_alibi_matches_bloom(n_head):
    """BLOOM (an ALiBi model in transformers) adds slope * j to the scores of key j;
    we add -slope * (i - j). Per query row i they differ by the constant slope * i,
    which softmax ignores, so both give the same attention."""
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    T = 7
    bloom = build_alibi_tensor(torch.ones(1, T), n_head, torch.float32).view(n_head, 1, T)
    ours = alibi_bias(n_head, T)
    i = torch.arange(T).view(1, T, 1)
    torch.testing.assert_close(
        ours + alibi_slopes(n_head).view(n_head, 1, 1) * i, bloom.expand(n_head, T, T)
    )
    torch.testing.assert_close(alibi_slopes(n_head), bloom[:, 0, 1])


def test_alibi_slopes_for_eight_heads():
    assert alibi_slopes(8).tolist() == [2.0**-k for k in range(1, 9)]


# ------------------------------------------------------------------- attention
def test_causal_mask():
    assert causal_mask(3, 3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]
    assert causal_mask(1, 4).tolist() == [[True, True, True, True]]  # the newest query sees all


@pytest.mark.parametrize("causal", [True, False])
def test_explicit_attention_matches_torch_sdpa(causal):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 10, 8), torch.randn(2, 3, 10, 8), torch.randn(2, 3, 10, 8)
    out, weights = scaled_dot_product_attention(q, k, v, causal=causal)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 10))
    if causal:
        assert (weights.triu(1) == 0).all()


def test_explicit_attention_with_bias_matches_torch_sdpa():
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 4, 6, 8), torch.randn(1, 4, 6, 8), torch.randn(1, 4, 6, 8)
    bias = alibi_bias(4, 6)
    out, _ = scaled_dot_product_attention(q, k, v, bias=bias)
    mask = bias.masked_fill(~causal_mask(6, 6), -math.inf)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


@pytest.mark.parametrize("n_kv_heads", [None, 2, 1])
@pytest.mark.parametrize("positions", ["learned", "rope", "alibi", "sinusoidal"])
def test_sdpa_and_explicit_paths_agree(n_kv_heads, positions):
    config = GPTConfig(**TINY, n_kv_heads=n_kv_heads, positions=positions)
    torch.manual_seed(0)
    fast = GPT(config).eval()
    slow = GPT(config.replace(attention="explicit")).eval()
    slow.load_state_dict(fast.state_dict())
    idx = torch.randint(0, 61, (2, 16))
    torch.testing.assert_close(fast(idx)[0], slow(idx)[0], atol=1e-5, rtol=1e-5)


def test_grouped_query_heads_share_keys():
    config = GPTConfig(**TINY, n_kv_heads=2)
    attn = MultiHeadAttention(config)
    assert attn.qkv.out_features == 32 + 2 * 2 * 8  # 4 query heads, 2 kv heads of 8
    q, k, v = attn.heads(torch.randn(1, 5, 32))
    assert q.shape == k.shape == v.shape == (1, 4, 5, 8)
    torch.testing.assert_close(k[:, 0], k[:, 1])  # heads 0, 1 share kv head 0
    torch.testing.assert_close(k[:, 2], k[:, 3])
    assert not torch.allclose(k[:, 1], k[:, 2])


def test_attention_is_causal():
    """Changing a later token must not change any earlier output."""
    model = GPT(GPTConfig(**TINY)).eval()
    idx = torch.randint(0, 61, (1, 16))
    changed = idx.clone()
    changed[0, 10] = (idx[0, 10] + 1) % 61
    a, b = model(idx)[0], model(changed)[0]
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_without_positions_one_layer_cannot_see_word_order():
    """With one causal layer and no positions, the last output depends only on the
    set of earlier tokens. (With more layers, earlier positions see different
    prefixes, so order leaks in through causality alone.)"""
    model = GPT(GPTConfig(**(TINY | {"n_layer": 1}), positions="none")).eval()
    a = torch.tensor([[5, 9, 17, 3]])  # "dog bites man ."
    b = torch.tensor([[17, 9, 5, 3]])  # "man bites dog ."
    torch.testing.assert_close(model(a)[0][0, -1], model(b)[0][0, -1], atol=1e-5, rtol=1e-5)
    with_pos = GPT(GPTConfig(**(TINY | {"n_layer": 1}), positions="learned")).eval()
    assert not torch.allclose(with_pos(a)[0][0, -1], with_pos(b)[0][0, -1], atol=1e-5)


# ------------------------------------------------------------------ the model
def test_flavours():
    gpt2 = GPT(GPTConfig.gpt2(**TINY))
    llama = GPT(GPTConfig.llama(**TINY, n_kv_heads=2))
    assert gpt2.head.weight is gpt2.tok_emb.weight
    assert llama.head.weight is not llama.tok_emb.weight
    assert isinstance(gpt2.blocks[0].norm1, LayerNorm) and isinstance(
        llama.blocks[0].norm1, RMSNorm
    )
    assert hasattr(llama, "rope_cos") and not hasattr(llama, "pos_emb")
    assert all(
        b.bias is None for b in (m for m in llama.modules() if isinstance(m, torch.nn.Linear))
    )


def test_loss_at_init_is_near_uniform():
    model = GPT(GPTConfig(**TINY))
    g = torch.Generator().manual_seed(0)
    idx, targets = (
        torch.randint(0, 61, (8, 16), generator=g),
        torch.randint(0, 61, (8, 16), generator=g),
    )
    _, loss = model(idx, targets)
    assert abs(loss.item() - math.log(61)) < 0.1


def test_a_few_steps_overfit_a_batch():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY))
    idx = torch.randint(0, 61, (4, 16))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first: float | None = None
    for _ in range(60):
        _, loss = model(idx[:, :-1], idx[:, 1:])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first is not None
    assert loss.item() < first / 3


@pytest.mark.parametrize("change", [dict(residual=False), dict(norm="none"), dict(mlp="none")])
def test_ablations_build_and_run(change):
    model = GPT(GPTConfig(**TINY, **change))
    logits, loss = model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))
    assert logits.shape == (1, 4, 61) and torch.isfinite(loss)


def test_generate_greedy_and_sampled():
    model = GPT(GPTConfig(**TINY)).eval()
    prompt = torch.tensor([[1, 2, 3]])
    out = model.generate(prompt, 20)  # longer than block_size: the context is cropped
    assert out.shape == (1, 23) and torch.equal(out[:, :3], prompt)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    s1 = model.generate(prompt, 10, temperature=1.0, top_k=5, generator=g1)
    s2 = model.generate(prompt, 10, temperature=1.0, top_k=5, generator=g2)
    assert torch.equal(s1, s2)


def test_top_k_one_is_greedy():
    model = GPT(GPTConfig(**TINY)).eval()
    prompt = torch.tensor([[4, 5]])
    assert torch.equal(
        model.generate(prompt, 8, temperature=0.7, top_k=1), model.generate(prompt, 8)
    )


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 16), B=st.integers(1, 3))
def test_any_length_up_to_the_context(T, B):
    model = GPT(GPTConfig(**TINY)).eval()
    logits, _ = model(torch.zeros(B, T, dtype=torch.long))
    assert logits.shape == (B, T, 61)


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "idx,error,match",
    [
        (torch.zeros(1, 17, dtype=torch.long), ValueError, "longer than the context"),
        (torch.tensor([[1, 61]]), ValueError, "token id 61 is out of range"),
        (torch.tensor([[-1, 2]]), ValueError, "token id -1 is out of range"),
        (torch.zeros(1, 4), TypeError, "integer token ids"),
        (torch.zeros(4, dtype=torch.long), ValueError, r"\(batch, time\)"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "no positions"),
        ([[1, 2]], TypeError, "torch.Tensor"),
    ],
    ids=["too-long", "id-too-big", "negative-id", "float", "rank-1", "empty", "list"],
)
def test_bad_input_is_rejected_clearly(idx, error, match):
    model = GPT(GPTConfig(**TINY))
    with pytest.raises(error, match=match):
        model(idx)


@pytest.mark.parametrize(
    "fields,match",
    [
        (dict(d_model=30), "not divisible by n_head"),
        (dict(n_kv_heads=3), "multiple of n_kv_heads"),
        (dict(n_layer=0), "n_layer must be a positive int"),
        (dict(positions="rope", head_dim=7), "even head_dim"),
        (dict(dropout=1.0), "dropout"),
    ],
)
def test_bad_config_is_rejected_clearly(fields, match):
    with pytest.raises(ValueError, match=match):
        GPTConfig(**{**TINY, **fields})


def test_attention_dropout_zeroes_weights_and_rescales():
    """The explicit path's dropout: some weights are dropped, the rest scaled by 1/(1-p)."""
    torch.manual_seed(0)
    q = k = v = torch.randn(1, 2, 32, 8)
    plain, w = scaled_dot_product_attention(q, k, v)
    torch.manual_seed(1)
    dropped, _ = scaled_dot_product_attention(q, k, v, dropout=0.5)
    assert not torch.allclose(plain, dropped)
    torch.manual_seed(1)
    keep = torch.nn.functional.dropout(torch.ones_like(w), p=0.5) > 0
    expected = (w * keep / 0.5) @ v
    torch.testing.assert_close(dropped, expected)


# ------------------------------------------------------------- user expectations
def test_the_loss_of_a_bfloat16_model_is_computed_in_float32():
    """Like transformers: a bf16 model's logits are upcast before the cross-entropy,
    so the loss is float32 and equals the float32 cross-entropy of those logits."""
    model = GPT(GPTConfig(**TINY)).to(torch.bfloat16)
    idx = torch.randint(0, 61, (4, 16), generator=torch.Generator().manual_seed(0))
    targets = torch.roll(idx, -1, dims=1)
    logits, loss = model(idx, targets)
    assert logits.dtype == torch.bfloat16 and loss is not None and loss.dtype == torch.float32
    assert torch.equal(loss, F.cross_entropy(logits.float().flatten(0, 1), targets.flatten()))
    model64 = GPT(GPTConfig(**TINY)).to(torch.float64)  # wider dtypes are kept
    assert model64(idx, targets)[1].dtype == torch.float64


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(temperature=-1.0), "temperature must be a finite number >= 0"),
        (dict(temperature=float("nan")), "temperature must be a finite number >= 0"),
        (dict(temperature=1.0, top_k=0), "top_k must be None"),
        (dict(max_new_tokens=-1), "max_new_tokens must be >= 0"),
    ],
    ids=["negative-temperature", "nan-temperature", "top-k-0", "negative-length"],
)
def test_bad_sampling_settings_are_rejected_clearly(kwargs, match):
    model = GPT(GPTConfig(**TINY)).eval()
    with pytest.raises(ValueError, match=match):
        model.generate(torch.zeros(1, 2, dtype=torch.long), **{"max_new_tokens": 3, **kwargs})
