"""groundup.pages.transformer.position_probes, and every claim docs/transformer/positional-encodings.md
makes about attention without positions and about each positional scheme."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from groundup.model import (
    GPT,
    GPTConfig,
    MultiHeadAttention,
    alibi_bias,
    alibi_slopes,
    apply_rope,
    rope_angles,
    sinusoidal_positions,
)
from groundup.model.encoder import self_attention
from groundup.pages.transformer.position_probes import (
    alibi_weights_without_content,
    apply_rope_interleaved,
    interleaved_to_halves,
    mass_beyond,
    random_model,
    rope_at,
    rope_scores_by_offset,
    sinusoidal_shift,
)
from groundup.site import site_tokenizer

A, B = "The dog bites the man.", "The man bites the dog."


@pytest.fixture(scope="module")
def tok():
    return site_tokenizer()


@pytest.fixture(scope="module")
def ids(tok):
    a, b = tok.encode(A), tok.encode(B)
    return a, b


def small(tok, **kw) -> GPTConfig:
    return GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_head=4, d_model=32, **kw)


# ------------------------------------------------------- attention sees a set
def test_the_sentences_are_permutations_of_each_other(ids) -> None:
    a, b = ids
    assert sorted(a) == sorted(b) and a != b
    assert a[0] == b[0] and a[-1] == b[-1]  # same first and last token


def test_bidirectional_attention_is_permutation_equivariant(tok, ids) -> None:
    a, b = ids
    perm = [a.index(i) if a.count(i) == 1 else j for j, i in enumerate(b)]
    assert [a[j] for j in perm] == b
    torch.manual_seed(0)
    attn = MultiHeadAttention(small(tok, n_layer=1))
    E = torch.randn(tok.vocab_size, 32)
    with torch.no_grad():
        out_a, _ = self_attention(attn, E[a][None], causal=False)
        out_b, _ = self_attention(attn, E[b][None], causal=False)
    torch.testing.assert_close(out_b, out_a[:, perm], atol=1e-6, rtol=1e-5)
    assert (out_b - out_a).abs().max() > 0.05  # the outputs did move with the tokens
    # and for any random permutation
    x = torch.randn(3, 9, 32)
    p = torch.randperm(9)
    with torch.no_grad():
        torch.testing.assert_close(
            self_attention(attn, x[:, p], False)[0],
            self_attention(attn, x, False)[0][:, p],
            atol=1e-6,
            rtol=1e-5,
        )
        # the causal layer is not equivariant
        assert not torch.allclose(
            self_attention(attn, x[:, p], True)[0],
            self_attention(attn, x, True)[0][:, p],
            atol=1e-3,
        )


def _last_change(tok, ids, positions: str, n_layer: int) -> float:
    a, b = ids
    model = random_model(small(tok, n_layer=n_layer, positions=positions))
    with torch.no_grad():
        la, lb = model(torch.tensor([a]))[0][0, -1], model(torch.tensor([b]))[0][0, -1]
    return ((la - lb).norm() / la.norm()).item()


def test_order_blindness_table(tok, ids) -> None:
    assert _last_change(tok, ids, "none", 1) < 1e-5  # float rounding
    for n_layer in (2, 4):
        assert _last_change(tok, ids, "none", n_layer) > 1e-2  # order leaks in
    for positions in ("sinusoidal", "learned", "rope", "alibi"):
        assert _last_change(tok, ids, positions, 1) > 1e-2


def test_random_model_redraws_weights_at_unit_scale(tok) -> None:
    model = random_model(small(tok, n_layer=1), seed=3)
    assert not model.training
    assert model.tok_emb.weight.std().item() == pytest.approx(1.0, rel=0.05)
    w = model.layers[0].attn.qkv.weight
    assert w.std().item() == pytest.approx(1 / math.sqrt(32), rel=0.05)
    again = random_model(small(tok, n_layer=1), seed=3)
    assert torch.equal(again.layers[0].attn.qkv.weight, w)


def test_first_layer_twins_are_only_first_and_last(tok, ids) -> None:
    a, b = ids
    model = random_model(small(tok, n_layer=2, positions="none"))
    with torch.no_grad():
        h_a = model.blocks[0](model.tok_emb(torch.tensor([a])))[0]
        h_b = model.blocks[0](model.tok_emb(torch.tensor([b])))[0]
    twins = [t for t in range(len(a)) if torch.cdist(h_a[t : t + 1], h_b).min() < 1e-5]
    assert twins == [0, len(a) - 1]


def test_causal_dilution_lets_a_layer_count(tok) -> None:
    one = random_model(small(tok, n_layer=1, positions="none"))
    the, first = tok.encode(" the")[0], tok.encode("The")[0]
    assert first != the
    with torch.no_grad():
        same = one.blocks[0](one.tok_emb(torch.tensor([[the] * 8])))[0]
        led = one.blocks[0](one.tok_emb(torch.tensor([[first] + [the] * 7])))[0]
    assert (same - same[0]).abs().max() < 1e-5  # identical at every position
    steps = (led[2:] - led[1:-1]).norm(dim=-1)
    assert (steps > 1e-3).all()
    assert (steps[1:] < steps[:-1]).all()  # shrinking with t


# ------------------------------------------------------------------ sinusoidal
def test_sinusoidal_shift_is_a_rotation_that_moves_every_position() -> None:
    pe = sinusoidal_positions(1024, 64)
    for k in (1, 7, 300):
        M = sinusoidal_shift(k, 64)
        torch.testing.assert_close(pe[:-k] @ M.T, pe[k:], atol=2e-4, rtol=0)
        torch.testing.assert_close(M @ M.T, torch.eye(64), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        sinusoidal_shift(3, 8) @ sinusoidal_shift(4, 8), sinusoidal_shift(7, 8), atol=1e-6, rtol=0
    )
    with pytest.raises(ValueError, match="even"):
        sinusoidal_shift(1, 7)


def test_sinusoidal_dot_product_depends_only_on_the_offset() -> None:
    pe = sinusoidal_positions(128, 64)
    base = pe[:68] @ pe[0]
    for p0 in (20, 60):
        torch.testing.assert_close(pe[p0 : p0 + 68] @ pe[p0], base, atol=1e-4, rtol=0)
    k = torch.arange(68, dtype=torch.float64)[:, None]
    w = 10_000.0 ** (-torch.arange(0, 64, 2, dtype=torch.float64) / 64)
    torch.testing.assert_close(base.double(), torch.cos(k * w).sum(-1), atol=1e-4, rtol=0)
    assert base.argmax() == 0


# --------------------------------------------------------------------- learned
def test_learned_positions_train_only_reached_rows_and_stop_at_block_size(tok) -> None:
    config = GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=4, d_model=32)
    torch.manual_seed(0)
    model = GPT(config)
    ids = torch.tensor([tok.encode(B)])
    _, loss = model(ids[:, :-1], ids[:, 1:])
    loss.backward()
    grad = model.pos_emb.weight.grad
    assert grad is not None
    rows = grad.ne(0).any(dim=1).nonzero().flatten().tolist()
    assert rows == list(range(ids.size(1) - 1))
    with pytest.raises(ValueError, match="longer than the context"):
        model(torch.zeros(1, 33, dtype=torch.long))
    gpt2 = GPTConfig.gpt2(vocab_size=50_257, block_size=1024, n_layer=12, n_head=12, d_model=768)
    with torch.device("meta"):
        assert GPT(gpt2).pos_emb.weight.shape == (1024, 768)
    assert gpt2.block_size * gpt2.d_model == 786_432


# ------------------------------------------------------------------------ RoPE
def test_rope_score_depends_only_on_the_offset() -> None:
    torch.manual_seed(0)
    q, k = torch.randn(64), torch.randn(64)
    scores = [
        (rope_at(q, m) @ rope_at(k, n)).item()
        for m, n in [(3, 0), (10, 7), (100, 97), (1000, 997), (4000, 3997)]
    ]
    assert max(scores) - min(scores) < 1e-3
    assert abs(scores[0] - (q @ k).item()) > 1.0  # RoPE did change it
    assert rope_at(q, 1000).norm().item() == pytest.approx(q.norm().item(), rel=1e-5)
    torch.testing.assert_close(rope_at(q, 0), q)


def test_rope_at_matches_apply_rope_on_a_sequence() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 1, 20, 16)
    cos, sin = rope_angles(20, 16)
    full = apply_rope(x, cos, sin)
    for p in (0, 5, 19):
        torch.testing.assert_close(rope_at(x[0, 0, p], p), full[0, 0, p])


def test_rope_scores_by_offset() -> None:
    ones = torch.ones(128)
    s = rope_scores_by_offset(ones, ones, 4096) / 128
    assert s[0].item() == pytest.approx(1.0)
    far = rope_scores_by_offset(ones, ones, 300, start=2000) / 128
    torch.testing.assert_close(far, s[:300], atol=1e-4, rtol=0)
    # the same with explicit rotations
    torch.manual_seed(0)
    q, k = torch.randn(32), torch.randn(32)
    direct = torch.tensor([rope_at(q, 7 + o) @ rope_at(k, 7) for o in range(5)])
    torch.testing.assert_close(rope_scores_by_offset(q, k, 5, start=7), direct, atol=1e-4, rtol=0)
    # decays (on average) with distance, more slowly with a larger base
    big = rope_scores_by_offset(ones, ones, 4096, theta=500_000.0) / 128
    assert s[1000:].mean() < s[10:100].mean() < 1.0
    assert big[1000:].mean() > s[1000:].mean()


def test_interleaved_and_rotate_half_layouts_differ_by_a_permutation() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4, 12, 16)
    perm = interleaved_to_halves(16)
    assert perm.tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15]
    cos, sin = rope_angles(12, 16)
    torch.testing.assert_close(
        apply_rope(x[..., perm], cos, sin), apply_rope_interleaved(x)[..., perm]
    )
    a = apply_rope_interleaved(x)
    b = apply_rope(x[..., perm], cos, sin)
    torch.testing.assert_close(
        a @ a.transpose(-2, -1), b @ b.transpose(-2, -1), atol=1e-4, rtol=1e-5
    )
    # without the permutation the layouts disagree
    assert not torch.allclose(apply_rope(x, cos, sin), apply_rope_interleaved(x), atol=1e-3)


def test_interleaved_rope_matches_the_rotation_written_as_a_loop() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 1, 5, 6)
    out = apply_rope_interleaved(x)
    for p in range(5):
        for i in range(3):
            a = p * 10_000 ** (-2 * i / 6)
            x0, x1 = x[0, 0, p, 2 * i].item(), x[0, 0, p, 2 * i + 1].item()
            assert out[0, 0, p, 2 * i].item() == pytest.approx(
                x0 * math.cos(a) - x1 * math.sin(a), abs=1e-5
            )
            assert out[0, 0, p, 2 * i + 1].item() == pytest.approx(
                x1 * math.cos(a) + x0 * math.sin(a), abs=1e-5
            )


# ----------------------------------------------------------------------- ALiBi
def test_alibi_weights_without_content_is_softmax_of_the_last_bias_row() -> None:
    for H, T in [(8, 64), (4, 10), (12, 33)]:
        torch.testing.assert_close(
            alibi_weights_without_content(H, T), torch.softmax(alibi_bias(H, T)[:, -1], dim=-1)
        )


def test_alibi_reach_table() -> None:
    H = 8
    slopes = alibi_slopes(H)
    assert slopes.tolist() == [2.0**-k for k in range(1, 9)]
    far = mass_beyond(alibi_weights_without_content(H, 4096), 1024)
    assert (far[:7] < 0.001).all() and 0.01 < far[7] < 0.05  # only the shallowest head
    by_distance = alibi_weights_without_content(H, 4096).flip(-1)
    reach = [int((by_distance[h].cumsum(0) < 0.9).sum()) + 1 for h in range(H)]
    assert reach == sorted(reach) and reach[0] < 10 and reach[-1] > 500
    # reach roughly doubles as the slope halves
    assert all(1.8 < b / a < 2.2 for a, b in itertools.pairwise(reach[1:]))


def test_mass_beyond() -> None:
    w = torch.tensor([[0.1, 0.2, 0.3, 0.4]])  # keys 0..3; distances 3, 2, 1, 0
    assert mass_beyond(w, 1).tolist() == [pytest.approx(0.3)]
    assert mass_beyond(w, 0).tolist() == [pytest.approx(0.6)]
