"""What encoders and decoders are trained to do: masked-token and next-token prediction.

`mask_for_mlm` is BERT's corruption of a sequence. `train_next_token` trains a
tiny `Encoder` to predict the next token, once with the causal mask and once
without it, on random tokens, where the only way to beat chance is to read the
answer from the input.
"""

from __future__ import annotations

import json
import sys

import torch
import torch.nn.functional as F
from torch import nn

from groundup.atomic import atomic_write_text
from groundup.cache import cache_path, timed
from groundup.model.config import GPTConfig
from groundup.model.encoder import Encoder
from groundup.pages.transformer.timing import one_thread


# --8<-- [start:mlm]
def mask_for_mlm(
    ids: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    maskable: torch.Tensor | None = None,
    p: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-language-model inputs and targets for ids (B, T).

    Each maskable position is chosen with probability p. A chosen position's
    input becomes mask_id (80% of the time), a random id (10%) or stays (10%);
    its target is the original id. Targets elsewhere are -100 (ignored by the loss).
    """
    maskable = torch.ones_like(ids, dtype=torch.bool) if maskable is None else maskable
    u = torch.rand(ids.shape, generator=generator)
    chosen = (torch.rand(ids.shape, generator=generator) < p) & maskable
    targets = torch.where(chosen, ids, -100)
    random_ids = torch.randint(0, vocab_size, ids.shape, generator=generator)
    inputs = torch.where(chosen & (u < 0.8), mask_id, ids)
    inputs = torch.where(chosen & (u >= 0.8) & (u < 0.9), random_ids, inputs)
    return inputs, targets


# --8<-- [end:mlm]


class TinyLM(nn.Module):
    """An `Encoder` with a linear head: idx (B, T) -> next-token logits (B, T, V)."""

    def __init__(self, config: GPTConfig, causal: bool) -> None:
        super().__init__()
        self.encoder, self.causal = Encoder(config), causal
        self.head = nn.Linear(config.d_model, config.vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(idx, causal=self.causal)[0])


# --8<-- [start:next_token]
def train_next_token(
    causal: bool,
    vocab_size: int = 16,
    seq_len: int = 8,
    steps: int = 300,
    batch: int = 32,
    seed: int = 0,
) -> tuple[list[float], list[float]]:
    """Train a one-layer TinyLM to predict token t + 1 at every position t of
    uniformly random sequences. The tokens are independent, so an honest model
    cannot beat ln(vocab_size).

    Returns the training loss at each step, and the loss at each position
    (seq_len of them) on a fresh batch after training.
    """
    torch.manual_seed(seed)
    config = GPTConfig(
        vocab_size=vocab_size,
        block_size=seq_len,
        n_layer=1,
        n_head=1,
        d_model=32,
        gelu_approximate="none",
        attention="explicit",
    )
    model = TinyLM(config, causal)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)

    def loss_per_position(ids: torch.Tensor) -> torch.Tensor:  # ids (B, T + 1)
        logits = model(ids[:, :-1])  # (B, T, V)
        return F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none").mean(0)

    losses = []
    for _ in range(steps):
        loss = loss_per_position(torch.randint(0, vocab_size, (batch, seq_len + 1))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = loss_per_position(torch.randint(0, vocab_size, (1024, seq_len + 1)))
    return losses, final.tolist()


# --8<-- [end:next_token]


@timed("next-token runs")
def cached_next_token_runs() -> dict[str, tuple[list[float], list[float]]]:
    """`train_next_token` with and without the causal mask, cached on disk."""
    import groundup.model.attention
    import groundup.model.encoder

    code = [groundup.model.attention, groundup.model.encoder, sys.modules[__name__]]
    path = cache_path("next-token-runs", {"torch": torch.__version__}, code, suffix=".json")
    if path.exists():
        return {k: (v[0], v[1]) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
    with one_thread():  # tiny models: one thread is faster than several
        runs = {
            "causal": train_next_token(causal=True),
            "bidirectional": train_next_token(causal=False),
        }
    atomic_write_text(path, json.dumps(runs))
    return runs
