"""A recurrent neural network (Elman RNN), the architecture transformers replaced.

One hidden vector h is carried along the sequence and updated once per token:
h_t = tanh(W h_{t-1} + U x_t + b). Everything the network knows about tokens
1..t must fit through h_t, and computing h_t needs h_{t-1} first.
"""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:rnn]
class RNN(nn.Module):
    """h_t = tanh(W h_{t-1} + U x_t + b), from h_0 = 0. x: (B, T, C) -> states (B, T, H).

    W starts as `gain` times a random orthogonal matrix, so every singular
    value of W is exactly `gain`: below 1 it shrinks whatever h carries, above
    1 it stretches it.
    """

    def __init__(self, d_in: int, d_hidden: int, gain: float = 1.0) -> None:
        super().__init__()
        self.W = nn.Parameter(gain * nn.init.orthogonal_(torch.empty(d_hidden, d_hidden)))
        self.U = nn.Linear(d_in, d_hidden)  # U x_t + b, bias b included

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"x must be (batch, time, channels), got shape {tuple(x.shape)}")
        B, T, _ = x.shape
        ux = self.U(x)  # (B, T, H): all inputs at once, in parallel
        h = x.new_zeros(B, self.W.size(0))  # (B, H)
        states = []
        for t in range(T):  # the recurrence: T steps, one after another
            h = torch.tanh(h @ self.W.T + ux[:, t])
            states.append(h)
        return torch.stack(states, dim=1)  # (B, T, H)


# --8<-- [end:rnn]


# --8<-- [start:gradient_by_distance]
def gradient_by_distance(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """How much the last step's loss feels each input: (T,), entry k = mean ||dL/dx_{T-k}||.

    model maps x: (B, T, C) to (B, T, H) (an `RNN`, or an attention layer);
    L is the sum of its last output h_T. With inputs x_1 .. x_T, entry 0 is
    x_T (distance 0) and entry T-1 is x_1; the norm is over channels, the mean
    over the batch.
    """
    x = x.detach().clone().requires_grad_(True)
    loss = model(x)[:, -1].sum()  # a loss that reads only h_T
    (grad,) = torch.autograd.grad(loss, x)  # (B, T, C)
    return grad.norm(dim=-1).mean(dim=0).flip(0)


# --8<-- [end:gradient_by_distance]
