"""docs/transformer/scaling.md: the variance of dot products, softmax saturation
and its gradient, the convex-hull property of the @V step, values against keys."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.model import scaled_dot_product_attention
from groundup.pages.transformer.scaling.softmax_scaling import (
    Scale,
    dot_products,
    saturation,
    scaled_logits,
    softmax_entropy,
    softmax_gradient_norm,
)
from groundup.pages.transformer.scaling.value_mixing import hull_overshoot, polygon
from groundup.pages.transformer.toy_attention import previous_token_head, toy_inputs


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------ variance d_k
@pytest.mark.parametrize("d_k", [1, 16, 256, 1024])
def test_dot_product_variance_is_d_k(d_k: int) -> None:
    dots = dot_products(d_k, 20_000, gen(d_k))
    assert dots.shape == (20_000,)
    assert dots.var().item() / d_k == pytest.approx(1.0, abs=0.05)
    assert abs(dots.mean().item()) < 4 * math.sqrt(d_k / 20_000)


@pytest.mark.parametrize(
    "scale,variance", [("none", lambda d: d), ("sqrt", lambda d: 1.0), ("d_k", lambda d: 1.0 / d)]
)
def test_scaled_logits_variance(scale: Scale, variance) -> None:
    d = 256
    z = scaled_logits(d, 400, 50, scale, gen(1))
    assert z.shape == (400, 50)
    assert z.var().item() / variance(d) == pytest.approx(1.0, abs=0.1)


# ------------------------------------------------------------ the softmax
def test_entropy_of_uniform_and_one_hot_rows() -> None:
    assert softmax_entropy(torch.full((32,), 1 / 32)).item() == pytest.approx(math.log(32))
    assert softmax_entropy(torch.eye(5)).tolist() == [0.0] * 5


def test_gradient_norm_is_the_jacobian_applied_to_a_random_gradient() -> None:
    z = torch.randn(7, 9, generator=gen(2))
    got = softmax_gradient_norm(z, gen(3))
    u = torch.randn(7, 9, generator=gen(3))  # the same draw
    p = torch.softmax(z, -1)
    jacobian = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (7, 9, 9), symmetric
    expected = (jacobian @ u[:, :, None])[:, :, 0].norm(dim=-1)
    torch.testing.assert_close(got, expected)


def test_one_hot_softmax_passes_no_gradient() -> None:
    z = torch.tensor([[0.0, 200.0, 0.0, 0.0]])
    assert softmax_gradient_norm(z, gen()).item() < 1e-30


@pytest.fixture(scope="module")
def sweep() -> dict[str, dict[int, object]]:
    g = gen(0)
    dims = [4, 16, 64, 256, 1024]
    return {
        s: {d: saturation(scaled_logits(d, 2000, 32, s, g), g) for d in dims}
        for s in ("none", "sqrt", "d_k")
    }


def test_unscaled_softmax_saturates_as_d_k_grows(sweep) -> None:
    none = sweep["none"]
    entropies = [none[d].entropy for d in sorted(none)]
    assert entropies == sorted(entropies, reverse=True)
    top = [none[d].max_weight for d in sorted(none)]
    assert top == sorted(top)
    assert none[1024].one_hot_share > 0.5 and none[1024].max_weight > 0.9
    assert none[1024].entropy < 0.25


def test_unscaled_gradient_vanishes_and_scaled_does_not(sweep) -> None:
    none, sqrt = sweep["none"], sweep["sqrt"]
    assert sqrt[1024].grad_norm / none[1024].grad_norm > 1000
    grads = [sqrt[d].grad_norm for d in sqrt]
    assert max(grads) / min(grads) < 1.3  # flat across d_k
    entropies = [sqrt[d].entropy for d in sqrt]
    assert max(entropies) - min(entropies) < 0.15
    assert max(sqrt[d].one_hot_share for d in sqrt) == 0.0


def test_dividing_by_d_k_makes_the_weights_uniform(sweep) -> None:
    lin = sweep["d_k"][1024]
    assert math.log(32) - lin.entropy < 0.01
    assert lin.entropy > sweep["sqrt"][1024].entropy + 0.3


# ------------------------------------------------------------ the @V step
def test_polygon_corners() -> None:
    corners = polygon(5)
    torch.testing.assert_close(corners.norm(dim=-1), torch.ones(5))
    torch.testing.assert_close(corners[0], torch.tensor([0.0, 1.0]))


def test_hull_overshoot_sees_points_outside() -> None:
    square = torch.tensor([[0.0, 0], [1, 0], [1, 1], [0, 1]])
    assert hull_overshoot(torch.tensor([[0.5, 0.5]]), square) == pytest.approx(-0.5, abs=1e-3)
    assert hull_overshoot(torch.tensor([[2.0, 0.5]]), square) == pytest.approx(1.0, abs=1e-3)
    assert hull_overshoot(torch.tensor([[1.0, 1.0]]), square) == pytest.approx(0.0, abs=1e-6)


def test_page_outputs_lie_in_the_hull_of_the_values() -> None:
    g = gen(0)
    corners = polygon(5)
    values = torch.cat([corners, torch.tensor([[0.35, -0.2]])])
    keys = torch.randn(6, 8, generator=g)
    lengths = 6 * torch.rand(2000, 1, generator=g)
    queries = lengths * torch.nn.functional.normalize(torch.randn(2000, 8, generator=g), dim=-1)
    out, A = scaled_dot_product_attention(queries, keys, values, causal=False)
    assert hull_overshoot(out, values) < 1e-6
    assert hull_overshoot(out, corners) < 1e-6  # the inner value adds nothing
    assert A.min() >= 0 and (A.sum(-1) - 1).abs().max() < 1e-6
    # long queries reach further out than short ones
    radius = out.norm(dim=-1)
    short, long = lengths[:, 0] < 1, lengths[:, 0] > 5
    assert radius[long].mean() > 2 * radius[short].mean()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 9), st.integers(1, 6), st.floats(0.1, 30.0))
def test_every_output_is_a_convex_combination(seed: int, S: int, d_v: int, spread: float) -> None:
    g = gen(seed)
    q, k = spread * torch.randn(5, 4, generator=g), torch.randn(S, 4, generator=g)
    v = torch.randn(S, d_v, generator=g)
    out, A = scaled_dot_product_attention(q, k, v, causal=False)
    assert (A >= 0).all() and torch.allclose(A.sum(-1), torch.ones(5))
    assert (out >= v.min(0).values - 1e-5).all() and (out <= v.max(0).values + 1e-5).all()
    if d_v == 2:
        assert hull_overshoot(out, v) < 1e-5


# ------------------------------------------------------------ values, not keys
def test_mixing_values_hands_over_the_previous_token_mixing_keys_its_position() -> None:
    ids = [0, 1, 2, 3, 2, 4]
    width = len(ids)
    head = previous_token_head(width)
    x = toy_inputs(ids, width)[0]
    q, k, v = x @ head.w_q.T, x @ head.w_k.T, x @ head.w_v.T
    from_values, _ = scaled_dot_product_attention(q, k, v)
    from_keys, _ = scaled_dot_product_attention(q, k, k)
    previous = [max(i - 1, 0) for i in range(width)]
    assert from_values.argmax(-1).tolist() == [ids[p] for p in previous]
    assert from_keys.argmax(-1).tolist() == previous
    torch.testing.assert_close(from_keys, torch.eye(width)[previous], atol=1e-3, rtol=0)
