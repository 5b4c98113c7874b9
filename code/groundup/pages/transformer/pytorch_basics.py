"""A two-layer MLP: the smallest network that is more than a linear map.

Everything "PyTorch basics" teaches lives here: a module (`TwoLayerMLP`), a toy
data set it has to bend space to separate (`spirals`), the training loop
(`train`), one optimizer step written out (`sgd_step`), and the gradients of
the loss derived by hand (`manual_gradients`) to check against autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Activation = Literal["relu", "tanh", "none"]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "none": lambda z: z,
}


# --8<-- [start:two_layer_mlp]
class TwoLayerMLP(nn.Module):
    """x -> fc2(activation(fc1(x))): widen to d_hidden, bend, project to d_out.

    x: (..., d_in) -> (..., d_out). The layers act on the last dimension only,
    so (B, d_in) and (B, T, d_in) inputs both work. With activation="none" the
    two layers compose into a single linear map.
    """

    def __init__(
        self, d_in: int, d_hidden: int, d_out: int, activation: Activation = "relu"
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.fc1 = nn.Linear(d_in, d_hidden)  # weight (d_hidden, d_in), bias (d_hidden,)
        self.fc2 = nn.Linear(d_hidden, d_out)  # weight (d_out, d_hidden), bias (d_out,)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = ACTIVATIONS[self.activation](self.fc1(x))  # (..., d_hidden)
        return self.fc2(h)  # (..., d_out): one score per class


# --8<-- [end:two_layer_mlp]


# --8<-- [start:spirals]
def spirals(
    n_per_class: int, noise: float = 0.05, turns: float = 1.25, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved spiral arms in the plane: points x (2n, 2) and labels y (2n,).

    Arm k is (r cos a, r sin a) with r uniform in [0.1, 1] and
    a = 2 pi turns r + k pi, plus Gaussian noise of standard deviation `noise`.
    No straight line separates the arms. Another seed gives fresh points.
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be positive, got {n_per_class}")
    g = torch.Generator().manual_seed(seed)
    r = 0.1 + 0.9 * torch.rand(2 * n_per_class, generator=g)  # (2n,)
    y = torch.arange(2).repeat_interleave(n_per_class)  # (2n,): 0...0 1...1
    angle = 2 * math.pi * turns * r + math.pi * y
    x = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)
    return x + noise * torch.randn(x.shape, generator=g), y


# --8<-- [end:spirals]


# --8<-- [start:sgd_step]
@torch.no_grad()
def sgd_step(params: Iterable[nn.Parameter], lr: float) -> None:
    """What `torch.optim.SGD(params, lr).step()` does: p <- p - lr * dL/dp, in place."""
    for p in params:
        if p.grad is not None:
            p.sub_(lr * p.grad)


# --8<-- [end:sgd_step]


# --8<-- [start:train]
def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int = 1000,
    lr: float = 0.02,
) -> list[float]:
    """Full-batch training with Adam on the cross-entropy loss.

    x: (N, d_in) inputs, y: (N,) class ids. Returns the loss before each step.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        logits = model(x)  # (N, n_classes)
        loss = F.cross_entropy(logits, y)  # a scalar: mean of -log p(correct class)
        optimizer.zero_grad()  # .grad accumulates; clear last step's
        loss.backward()  # autograd fills p.grad for every parameter
        optimizer.step()  # move every parameter against its gradient
        losses.append(loss.item())
    return losses


# --8<-- [end:train]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of points whose highest-scoring class is the label."""
    return (model(x).argmax(dim=-1) == y).float().mean().item()


# --8<-- [start:manual_gradients]
def manual_gradients(
    model: TwoLayerMLP, x: torch.Tensor, y: torch.Tensor
) -> dict[str, torch.Tensor]:
    """dL/dp for every parameter p, by the chain rule, for L = mean cross-entropy.

    x: (B, d_in), y: (B,). Returns tensors keyed like `model.named_parameters()`.
    """
    W1, b1, W2, b2 = model.fc1.weight, model.fc1.bias, model.fc2.weight, model.fc2.bias
    _check_batch(x, y, W1.size(1))
    B = x.size(0)
    with torch.no_grad():
        z = x @ W1.T + b1  # (B, H) pre-activation
        h = ACTIVATIONS[model.activation](z)  # (B, H)
        p = torch.softmax(h @ W2.T + b2, dim=-1)  # (B, K) predicted probabilities
        d_logits = (p - F.one_hot(y, p.size(-1)).to(p.dtype)) / B  # (B, K)
        d_h = d_logits @ W2  # (B, H)
        slope = {"relu": (z > 0).to(z.dtype), "tanh": 1 - h**2, "none": torch.ones_like(z)}
        d_z = d_h * slope[model.activation]  # (B, H): through the activation
        return {
            "fc1.weight": d_z.T @ x,
            "fc1.bias": d_z.sum(0),
            "fc2.weight": d_logits.T @ h,
            "fc2.bias": d_logits.sum(0),
        }


# --8<-- [end:manual_gradients]


def _check_batch(x: torch.Tensor, y: torch.Tensor, d_in: int) -> None:
    if x.dim() != 2 or x.size(1) != d_in:
        raise ValueError(f"x must be (batch, {d_in}), got shape {tuple(x.shape)}")
    if y.dim() != 1 or y.size(0) != x.size(0) or y.dtype != torch.int64:
        raise ValueError(
            f"y must be ({x.size(0)},) int64 class ids, got {tuple(y.shape)} {y.dtype}"
        )


def autograd_gradients(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The same gradients from `loss.backward()`, keyed by parameter name."""
    names, params = zip(*model.named_parameters())
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), params)
    return dict(zip(names, grads))


def as_linear(model: TwoLayerMLP) -> nn.Linear:
    """The single linear layer equal to a TwoLayerMLP without activation:
    W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2)."""
    if model.activation != "none":
        raise ValueError(
            f"only a model without activation is linear, this one uses {model.activation!r}"
        )
    W1, b1, W2, b2 = model.fc1.weight, model.fc1.bias, model.fc2.weight, model.fc2.bias
    linear = nn.Linear(W1.size(1), W2.size(0))
    with torch.no_grad():
        linear.weight.copy_(W2 @ W1)
        linear.bias.copy_(W2 @ b1 + b2)
    return linear
