"""`groundup.pages.transformer.pytorch_basics`, and the claims docs/transformer/pytorch-basics.md
makes about it: the collapse without activation, gradients by hand against autograd,
the SGD step, and what the three trained networks reach on the spirals."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.pages.transformer.pytorch_basics import (
    Activation,
    TwoLayerMLP,
    accuracy,
    as_linear,
    autograd_gradients,
    manual_gradients,
    sgd_step,
    spirals,
    train,
)
from groundup.pages.transformer.timing import one_thread

# the page's three networks: (hidden units, activation)
VARIANTS: dict[str, tuple[int, Activation]] = {
    "linear": (64, "none"),
    "narrow": (4, "relu"),
    "wide": (64, "relu"),
}


@pytest.fixture(scope="module")
def trained() -> dict[str, tuple[TwoLayerMLP, list[float], float]]:
    """The page's experiment, exactly: model, losses and test accuracy per variant."""
    x_train, y_train = spirals(200, seed=0)
    x_test, y_test = spirals(200, seed=1)
    out = {}
    with one_thread():
        for name, (hidden, activation) in VARIANTS.items():
            torch.manual_seed(0)
            model = TwoLayerMLP(2, hidden, 2, activation)
            losses = train(model, x_train, y_train, steps=1000, lr=0.02)
            out[name] = (model, losses, accuracy(model, x_test, y_test))
    return out


# ------------------------------------------------------------------ the module
def test_forward_is_fc2_of_activation_of_fc1() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 3)
    cases: list[tuple[Activation, Callable[[torch.Tensor], torch.Tensor]]] = [
        ("relu", torch.relu),
        ("tanh", torch.tanh),
        ("none", lambda z: z),
    ]
    for activation, fn in cases:
        m = TwoLayerMLP(3, 7, 2, activation)
        expected = fn(x @ m.fc1.weight.T + m.fc1.bias) @ m.fc2.weight.T + m.fc2.bias
        torch.testing.assert_close(m(x), expected)


def test_acts_on_the_last_dimension_of_b_t_c_input() -> None:
    torch.manual_seed(0)
    m = TwoLayerMLP(4, 8, 3)
    x = torch.randn(2, 5, 4)
    out = m(x)
    assert out.shape == (2, 5, 3)
    torch.testing.assert_close(out[1, 2], m(x[1, 2][None])[0])


def test_parameter_shapes_and_counts() -> None:
    m = TwoLayerMLP(2, 64, 2)
    shapes = {k: tuple(p.shape) for k, p in m.named_parameters()}
    assert shapes == {
        "fc1.weight": (64, 2),
        "fc1.bias": (64,),
        "fc2.weight": (2, 64),
        "fc2.bias": (2,),
    }
    assert sum(p.numel() for p in m.parameters()) == 322
    assert sum(p.numel() for p in TwoLayerMLP(2, 4, 2).parameters()) == 22


def test_unknown_activation_is_rejected() -> None:
    with pytest.raises(ValueError, match="activation"):
        TwoLayerMLP(2, 4, 2, "sigmoid")  # type: ignore[arg-type]


@given(
    d_in=st.integers(1, 6),
    hidden=st.integers(1, 40),
    d_out=st.integers(1, 5),
    seed=st.integers(0, 99),
)
@settings(max_examples=30, deadline=None)
def test_without_activation_two_layers_are_one_linear_map(d_in, hidden, d_out, seed) -> None:
    torch.manual_seed(seed)
    m = TwoLayerMLP(d_in, hidden, d_out, "none")
    x = torch.randn(10, d_in)
    torch.testing.assert_close(as_linear(m)(x), m(x), atol=1e-5, rtol=1e-4)


def test_as_linear_refuses_a_nonlinear_model() -> None:
    with pytest.raises(ValueError, match="relu"):
        as_linear(TwoLayerMLP(2, 4, 2, "relu"))


# ------------------------------------------------------------------ data
def test_spirals_shapes_labels_and_determinism() -> None:
    x, y = spirals(50, seed=4)
    assert x.shape == (100, 2) and y.shape == (100,) and y.dtype == torch.int64
    assert y.tolist() == [0] * 50 + [1] * 50
    x2, y2 = spirals(50, seed=4)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.allclose(x, spirals(50, seed=5)[0])
    r = spirals(500, noise=0.0)[0].norm(dim=1)
    assert r.min() >= 0.1 - 1e-6 and r.max() <= 1.0 + 1e-6
    with pytest.raises(ValueError):
        spirals(0)


def test_spiral_arms_are_a_half_turn_apart() -> None:
    """Without noise, at equal radius the two arms are reflections through the origin."""
    x, y = spirals(300, noise=0.0, seed=2)
    for k in (0, 1):
        r = x[y == k].norm(dim=1)
        angle = torch.atan2(x[y == k, 1], x[y == k, 0])
        expected = 2 * math.pi * 1.25 * r + math.pi * k
        diff = torch.remainder(angle - expected + math.pi, 2 * math.pi) - math.pi
        assert diff.abs().max() < 1e-4


# ------------------------------------------------------------------ gradients
@given(
    activation=st.sampled_from(["relu", "tanh", "none"]),
    batch=st.integers(1, 12),
    d_in=st.integers(1, 5),
    hidden=st.integers(1, 9),
    classes=st.integers(2, 5),
    seed=st.integers(0, 10_000),
)
@settings(max_examples=60, deadline=None)
def test_manual_gradients_equal_autograd(activation, batch, d_in, hidden, classes, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    m = TwoLayerMLP(d_in, hidden, classes, activation).double()
    x = torch.randn(batch, d_in, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (batch,), generator=g)
    ours, theirs = manual_gradients(m, x, y), autograd_gradients(m, x, y)
    assert ours.keys() == theirs.keys() == dict(m.named_parameters()).keys()
    for k in ours:
        torch.testing.assert_close(ours[k], theirs[k], atol=1e-12, rtol=1e-10)


def test_manual_gradients_page_case_is_float32_close() -> None:
    x, y = spirals(4, seed=3)
    for activation in ("relu", "tanh"):
        torch.manual_seed(0)
        m = TwoLayerMLP(2, 5, 2, activation)
        ours, theirs = manual_gradients(m, x, y), autograd_gradients(m, x, y)
        assert max((ours[k] - theirs[k]).abs().max().item() for k in ours) < 1e-6


def test_manual_gradients_validate_their_inputs() -> None:
    m = TwoLayerMLP(2, 3, 2)
    with pytest.raises(ValueError, match="x must be"):
        manual_gradients(m, torch.randn(4, 3), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="y must be"):
        manual_gradients(m, torch.randn(4, 2), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="y must be"):
        manual_gradients(m, torch.randn(4, 2), torch.zeros(4))


# ------------------------------------------------------------------ optimisation
def test_sgd_step_equals_torch_sgd() -> None:
    x, y = spirals(4, seed=3)
    torch.manual_seed(0)
    ours = TwoLayerMLP(2, 8, 2)
    theirs = copy.deepcopy(ours)
    F.cross_entropy(ours(x), y).backward()
    sgd_step(ours.parameters(), lr=0.1)
    opt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    F.cross_entropy(theirs(x), y).backward()
    opt.step()
    assert all(
        torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters(), strict=True)
    )


def test_sgd_step_moves_against_the_gradient_and_skips_params_without_grad() -> None:
    p, q = torch.nn.Parameter(torch.tensor([1.0, 2.0])), torch.nn.Parameter(torch.tensor([3.0]))
    p.grad = torch.tensor([0.5, -1.0])
    sgd_step([p, q], lr=0.1)
    torch.testing.assert_close(p.detach(), torch.tensor([0.95, 2.1]))
    assert q.item() == 3.0


def test_train_returns_a_loss_per_step_starting_from_the_initial_loss() -> None:
    x, y = spirals(20, seed=0)
    torch.manual_seed(0)
    m = TwoLayerMLP(2, 8, 2)
    initial = F.cross_entropy(m(x), y).item()
    losses = train(m, x, y, steps=25, lr=0.02)
    assert len(losses) == 25 and losses[0] == pytest.approx(initial)
    assert losses[-1] < losses[0]


def test_train_clears_gradients_each_step() -> None:
    """Without zero_grad, .grad would hold the sum over all steps."""
    x, y = spirals(10, seed=0)
    torch.manual_seed(0)
    m = TwoLayerMLP(2, 4, 2)
    train(m, x, y, steps=3, lr=0.0)  # lr 0: the weights never move
    expected = autograd_gradients(copy.deepcopy(m), x, y)
    for name, p in m.named_parameters():
        torch.testing.assert_close(p.grad, expected[name])


def test_accuracy() -> None:
    m = TwoLayerMLP(1, 1, 2, "none")
    with torch.no_grad():
        m.fc1.weight.fill_(1.0)
        m.fc1.bias.zero_()
        m.fc2.weight.copy_(torch.tensor([[-1.0], [1.0]]))
        m.fc2.bias.zero_()
    x = torch.tensor([[-2.0], [-1.0], [1.0], [3.0]])
    assert accuracy(m, x, torch.tensor([0, 0, 1, 0])) == 0.75


# ------------------------------------------------------------------ the page's results
def test_page_linear_network_is_near_chance(trained) -> None:
    _, losses, acc = trained["linear"]
    assert acc < 0.6
    assert abs(losses[-1] - math.log(2)) < 0.1


def test_page_narrow_relu_network_is_in_between(trained) -> None:
    acc = {k: v[2] for k, v in trained.items()}
    assert acc["linear"] + 0.1 < acc["narrow"] < acc["wide"] - 0.1


def test_page_wide_relu_network_separates_the_spirals(trained) -> None:
    _, losses, acc = trained["wide"]
    assert acc > 0.95
    assert losses[-1] < 0.01
