"""`groundup.pages.transformer.why_transformers.rnn`, `groundup.pages.transformer.why_transformers.sequential` and `groundup.pages.transformer.timing`, and the
claims docs/transformer/why-transformers.md makes about what they measure."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from groundup.model import GPTConfig, MultiHeadAttention
from groundup.pages.transformer.timing import best_time, one_thread
from groundup.pages.transformer.why_transformers.rnn import RNN, gradient_by_distance
from groundup.pages.transformer.why_transformers.sequential import (
    SequenceTiming,
    attention_flops_per_token,
    graph_depth,
    rnn_flops_per_token,
    sequence_timings,
)

# the page's settings for the gradient plot
GAINS, T_GRAD, WIDTH, K = (0.5, 1.0, 2.0, 3.0), 64, 32, 40


@pytest.fixture(scope="module")
def page_grads() -> tuple[dict[float, torch.Tensor], torch.Tensor]:
    x = torch.randn(16, T_GRAD, WIDTH, generator=torch.Generator().manual_seed(1))
    grads = {}
    for gain in GAINS:
        torch.manual_seed(0)
        grads[gain] = gradient_by_distance(RNN(WIDTH, WIDTH, gain=gain), x)
    torch.manual_seed(0)
    attn = gradient_by_distance(MultiHeadAttention(GPTConfig(d_model=WIDTH, n_head=4)), x)
    return grads, attn


# ------------------------------------------------------------------ the RNN
def test_rnn_matches_its_equation_step_by_step() -> None:
    torch.manual_seed(0)
    rnn = RNN(3, 5, gain=0.7)
    x = torch.randn(2, 4, 3)
    states = rnn(x)
    h = torch.zeros(2, 5)
    for t in range(4):
        h = torch.tanh(h @ rnn.W.T + x[:, t] @ rnn.U.weight.T + rnn.U.bias)
        torch.testing.assert_close(states[:, t], h)


def test_rnn_equals_torch_rnn_with_the_same_weights() -> None:
    torch.manual_seed(0)
    ours, theirs = RNN(6, 8), nn.RNN(6, 8, batch_first=True)
    # nn.RNN registers its weights by name at runtime; a type checker sees Tensor | Module
    weight_hh, weight_ih = theirs.weight_hh_l0, theirs.weight_ih_l0
    bias_ih, bias_hh = theirs.bias_ih_l0, theirs.bias_hh_l0
    assert isinstance(weight_hh, torch.Tensor) and isinstance(weight_ih, torch.Tensor)
    assert isinstance(bias_ih, torch.Tensor) and isinstance(bias_hh, torch.Tensor)
    with torch.no_grad():
        weight_hh.copy_(ours.W)
        weight_ih.copy_(ours.U.weight)
        bias_ih.copy_(ours.U.bias)
        bias_hh.zero_()
    x = torch.randn(3, 7, 6)
    torch.testing.assert_close(ours(x), theirs(x)[0])


@pytest.mark.parametrize("gain", [0.5, 1.0, 3.0])
def test_w_has_every_singular_value_equal_to_gain(gain: float) -> None:
    torch.manual_seed(0)
    s = torch.linalg.svdvals(RNN(4, 16, gain=gain).W.detach())
    torch.testing.assert_close(s, torch.full((16,), gain))


def test_rnn_is_causal_as_the_page_shows() -> None:
    torch.manual_seed(0)
    rnn = RNN(d_in=8, d_hidden=16)
    x = torch.randn(2, 5, 8)
    x_edit = x.clone()
    x_edit[:, 3] += 1.0
    changed = (rnn(x_edit) - rnn(x)).abs().amax(dim=(0, 2)) > 0
    assert changed.tolist() == [False, False, False, True, True]


def test_rnn_rejects_unbatched_input() -> None:
    with pytest.raises(ValueError, match="batch, time, channels"):
        RNN(3, 4)(torch.randn(5, 3))


# ------------------------------------------------------------------ gradients
def test_gradient_by_distance_indexes_by_distance() -> None:
    """Entry k must be the gradient for input x_{T-k}: check against autograd by hand."""
    torch.manual_seed(0)
    rnn = RNN(3, 4)
    x = torch.randn(2, 6, 3, requires_grad=True)
    rnn(x)[:, -1].sum().backward()
    assert x.grad is not None
    by_hand = x.grad.norm(dim=-1).mean(dim=0)
    torch.testing.assert_close(gradient_by_distance(rnn, x), by_hand.flip(0))


def test_gradient_respects_the_gain_bound() -> None:
    """||dL/dx_{T-k}|| <= ||1|| g^k ||U||, per sample, so also on average."""
    torch.manual_seed(0)
    H = 12
    for gain in (0.5, 1.0, 1.5):
        rnn = RNN(H, H, gain=gain)
        g = gradient_by_distance(rnn, torch.randn(4, 30, H))
        bound = math.sqrt(H) * torch.linalg.matrix_norm(rnn.U.weight.detach(), ord=2)
        k = torch.arange(30, dtype=torch.float32)
        assert torch.all(g <= bound * gain**k * (1 + 1e-4))


def test_page_gradients_vanish_and_explode(page_grads) -> None:
    grads, _ = page_grads
    assert grads[0.5][K] < 1e-10 * grads[0.5][0]
    assert grads[1.0][K] < 1e-3 * grads[1.0][0]
    assert grads[2.0][K] > grads[2.0][0]
    assert grads[3.0][K] > 1e3 * grads[3.0][0]
    # the per-step factor grows with the gain
    per_step = [(grads[g][K] / grads[g][1]).item() ** (1 / (K - 1)) for g in GAINS]
    assert per_step == sorted(per_step) and per_step[1] < 1 < per_step[2]


def test_page_gradient_curves_are_close_to_straight_on_a_log_scale(page_grads) -> None:
    grads, _ = page_grads
    k = torch.arange(1, K + 1, dtype=torch.float64)
    for gain in GAINS:
        y = grads[gain][1 : K + 1].double().log()
        fit = torch.linalg.lstsq(torch.stack([k, torch.ones_like(k)], 1), y[:, None]).solution
        residual = y - (fit[0] * k + fit[1])
        r2 = 1 - residual.pow(2).sum() / (y - y.mean()).pow(2).sum()
        assert r2 > 0.95, gain


def test_page_attention_gradient_is_flat(page_grads) -> None:
    _, attn = page_grads
    rest = attn[1:]
    assert rest.max() / rest.min() < 1.5
    assert attn[0] > rest.max()


# ------------------------------------------------------------------ sequential steps
def test_graph_depth_of_simple_chains() -> None:
    x = torch.randn(3, requires_grad=True)
    assert graph_depth(x) == 0
    assert graph_depth(x.sin()) == 2  # AccumulateGrad <- SinBackward
    assert graph_depth(x.sin().cos().exp()) == 4
    a = x * 2
    assert graph_depth(a.sin() + a) == 4  # longest branch counts, not the sum


def test_graph_depth_handles_long_chains_without_recursion() -> None:
    h = torch.zeros(2, requires_grad=True)
    for _ in range(5000):
        h = h + 1
    assert graph_depth(h) == 5001


def test_rnn_chain_grows_by_three_per_token_and_attention_is_constant() -> None:
    torch.manual_seed(0)
    rnn, attn = RNN(16, 16), MultiHeadAttention(GPTConfig(d_model=16, n_head=4))
    lengths = [1, 4, 16, 64, 256]
    rnn_depths = [graph_depth(rnn(torch.randn(1, T, 16))) for T in lengths]
    attn_depths = {graph_depth(attn(torch.randn(1, T, 16))) for T in lengths}
    intercept = rnn_depths[0] - 3
    assert rnn_depths == [3 * T + intercept for T in lengths]
    assert len(attn_depths) == 1


def test_rnn_step_is_a_matmul_an_add_and_a_tanh() -> None:
    torch.manual_seed(0)
    rnn = RNN(4, 4)

    def names(T: int) -> list[str]:
        seen, stack, out = set(), [rnn(torch.randn(1, T, 4)).grad_fn], []
        while stack:
            node = stack.pop()
            if node in seen or node is None:
                continue
            seen.add(node)
            out.append(type(node).__name__)
            stack.extend(n for n, _ in node.next_functions)
        return out

    one, two = names(1), names(2)
    for op in ("MmBackward0", "AddBackward0", "TanhBackward0"):
        assert two.count(op) == one.count(op) + 1


# ------------------------------------------------------------------ FLOPs
@pytest.mark.parametrize("d, T", [(16, 5), (32, 24)])
def test_flops_per_token_match_pytorchs_counter(d: int, T: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(1, T, d)
    with FlopCounterMode(display=False) as counter:
        RNN(d, d)(x)
    assert counter.get_total_flops() == T * rnn_flops_per_token(d, d)
    attn = MultiHeadAttention(GPTConfig(d_model=d, n_head=4, attention="explicit"))
    with FlopCounterMode(display=False) as counter:
        attn(x)
    assert counter.get_total_flops() == T * attention_flops_per_token(d, T)


def test_attention_does_more_flops_per_token_than_the_rnn_and_grows_with_t() -> None:
    d = 64
    per_token = [attention_flops_per_token(d, T) for T in (16, 64, 256, 4096)]
    assert per_token == sorted(per_token)
    assert per_token[0] > rnn_flops_per_token(d, d)


# ------------------------------------------------------------------ timing
def test_sequence_timings_returns_one_positive_row_per_length() -> None:
    rows = sequence_timings([8, 32], d_model=16, n_head=2, repeats=1)
    assert [r.length for r in rows] == [8, 32]
    assert all(isinstance(r, SequenceTiming) for r in rows)
    assert all(min(r.rnn_loop, r.torch_rnn, r.attention) > 0 for r in rows)


def test_sequence_timings_restores_the_thread_count() -> None:
    before = torch.get_num_threads()
    sequence_timings([4], d_model=8, n_head=2, repeats=1)
    assert torch.get_num_threads() == before


def test_one_thread_sets_and_restores() -> None:
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), one_thread():
        raise RuntimeError("restored even on error")
    assert torch.get_num_threads() == before


def test_best_time_is_the_minimum_and_runs_warmup() -> None:
    calls = []
    t = best_time(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and t >= 0
    with pytest.raises(ValueError):
        best_time(lambda: None, repeats=0)
