"""What a trained model gives you, measured: next-token distributions of the site
model on real prompts, their entropy, how entropy compares with the surprise of the
token that really came next, the tree of the first two tokens, and the chain rule
computed by a decoding loop and by one teacher-forced pass, for the "What a trained
model gives you" page.

Everything here calls the model (`GPT.forward`) or `groundup.inference.Decoder`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from groundup.inference import Decoder
from groundup.model import GPT
from groundup.pages.generating_text.diagrams import Diagram
from groundup.pages.transformer.output_head_and_training.head import next_token_probs


# --8<-- [start:entropy]
def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each distribution along the last dim: (..., V) -> (...).

    H(p) = -sum_x p(x) ln p(x), with 0 ln 0 = 0 (torch.special.entr is -p ln p)."""
    return torch.special.entr(probs).sum(dim=-1)


# --8<-- [end:entropy]


@dataclass(frozen=True)
class NextToken:
    """The site model's answer to one prompt: its next-token distribution, summarised."""

    prompt: str
    top: list[tuple[int, float]]  # the most likely ids and their probabilities, best first
    entropy: float  # nats
    vocab_size: int

    @property
    def bits(self) -> float:
        return self.entropy / math.log(2)

    @property
    def effective_choices(self) -> float:
        """e^H: the size of a uniform distribution with the same entropy."""
        return math.exp(self.entropy)


# --8<-- [start:next_token]
def next_token(model: GPT, ids: list[int], prompt: str = "", k: int = 5) -> NextToken:
    """Run the model once on `ids` (at most block_size of them) and read the last row:
    logits (1, T, V) -> the distribution of the token after the prompt, (V,)."""
    # the output head's page: softmax of the last position's logits, (1, V)
    probs = next_token_probs(model, torch.tensor([ids]))[0].float()  # (V,)
    values, indices = probs.topk(k)
    top = list(zip(indices.tolist(), values.tolist()))
    return NextToken(prompt, top, float(entropy(probs)), probs.numel())


# --8<-- [end:next_token]


# --8<-- [start:entropy_and_surprisal]
@torch.inference_mode()
def entropy_and_surprisal(model: GPT, ids: np.ndarray, windows: int) -> tuple[np.ndarray, ...]:
    """For every position of `windows` consecutive windows of block_size + 1 tokens of
    `ids`: the entropy of the model's next-token distribution, and the surprisal
    -ln p(actual next token), both in nats, (windows * block_size,) each."""
    T = model.config.block_size
    needed = windows * (T + 1)
    if len(ids) < needed:
        raise ValueError(f"need {needed} tokens for {windows} windows of {T + 1}, got {len(ids)}")
    chunk = torch.as_tensor(ids[:needed].astype(np.int64)).view(windows, T + 1)
    x, y = chunk[:, :-1], chunk[:, 1:]  # (W, T) inputs and the tokens that follow
    logp = torch.log_softmax(model(x)[0].float(), dim=-1)  # (W, T, V)
    ent = entropy(logp.exp())
    surprisal = -logp.gather(-1, y[..., None])[..., 0]
    return ent.flatten().numpy(), surprisal.flatten().numpy()


# --8<-- [end:entropy_and_surprisal]


def calibration(
    ent: np.ndarray, surprisal: np.ndarray, bins: int = 8
) -> list[tuple[float, float, int]]:
    """Positions grouped into `bins` equal-count groups by entropy: each group's
    (mean entropy, mean surprisal, count). A calibrated model's groups lie on the
    diagonal: where it says it is this unsure, it is on average this surprised."""
    if ent.shape != surprisal.shape or ent.size < bins:
        raise ValueError("entropy and surprisal must have the same shape and >= bins values")
    order = np.argsort(ent, kind="stable")
    return [
        (float(ent[g].mean()), float(surprisal[g].mean()), len(g))
        for g in np.array_split(order, bins)
    ]


@dataclass(frozen=True)
class Branch:
    """A first next token, its probability, and the best second tokens after it."""

    first: int
    p_first: float
    second: list[tuple[int, float]]  # (id, p(second | prompt, first)), best first


@torch.inference_mode()
def two_token_tree(model: GPT, ids: list[int], width: int = 3) -> list[Branch]:
    """The `width` most likely first tokens after `ids` and, for each, the `width` most
    likely second tokens: one pass for the first distribution, then one batched pass
    of `width` rows (the prompt with each first token appended) for the second ones."""
    first = next_token(model, ids, k=width).top
    rows = torch.tensor([ids + [i] for i, _ in first])  # (width, T + 1)
    probs = torch.softmax(model(rows)[0][:, -1].float(), dim=-1)  # (width, V)
    values, indices = probs.topk(width, dim=-1)
    return [
        Branch(i, p, list(zip(indices[r].tolist(), values[r].tolist())))
        for r, (i, p) in enumerate(first)
    ]


# --8<-- [start:chain_rule]
def logprob_by_loop(model: GPT, prompt: list[int], continuation: list[int]) -> float:
    """ln p(continuation | prompt) the way generation meets it: feed the prompt, then
    one token per step, adding ln p of each token from the distribution before it."""
    decoder = Decoder(model, batch_size=1)
    logits = decoder.feed(torch.tensor([prompt]))[:, -1]  # (1, V): the first distribution
    total = 0.0
    for step, token in enumerate(continuation):
        total += torch.log_softmax(logits.float(), dim=-1)[0, token].item()
        if step + 1 < len(continuation):
            logits = decoder.feed(torch.tensor([[token]]))[:, -1]  # the next distribution
    return total


@torch.inference_mode()
def logprob_in_one_pass(model: GPT, prompt: list[int], continuation: list[int]) -> float:
    """The same number from one forward pass over prompt + continuation (teacher
    forcing): row t of the logits scores token t + 1, so every factor of the chain
    rule is there at once, but only because the continuation is known in advance."""
    ids = torch.tensor([prompt + continuation])  # (1, P + n)
    logp = torch.log_softmax(model(ids)[0][0, :-1].float(), dim=-1)  # (P + n - 1, V)
    rows = torch.arange(len(prompt) - 1, ids.size(1) - 1)  # rows that score the continuation
    return logp[rows, ids[0, rows + 1]].sum().item()


# --8<-- [end:chain_rule]


def tree_diagram(tree: list[Branch], label: Callable[[int], str], prompt: str) -> Diagram:
    """The prompt, its best first tokens, and each one's best second tokens, with the
    probabilities the model gives them: drawn from `two_token_tree`'s numbers."""
    rows = sum(len(b.second) for b in tree)
    row, top = 26, 16
    height = top * 2 + rows * row
    d = Diagram(
        640,
        height,
        title="The next two tokens: each first choice changes the second distribution",
        description=(
            f"After the prompt {prompt!r} the model's {len(tree)} most likely first tokens are "
            + "; ".join(
                f"{label(b.first)!r} ({b.p_first:.0%}), then "
                + ", ".join(f"{label(i)!r} ({p:.0%})" for i, p in b.second)
                for b in tree
            )
            + ". Each first token leads to a different distribution over the second."
        ),
    )
    mid = top + rows * row / 2
    d.box(10, mid - 16, 150, 32, prompt[-18:].replace("\n", "⏎"), fill="muted", size=12)
    y = top
    for b in tree:
        y_first = y + len(b.second) * row / 2
        d.arrow(160, mid, 262, y_first, f"{b.p_first:.0%}", size=11)
        d.box(264, y_first - 13, 120, 26, label(b.first), fill="primary", size=12)
        for i, p in b.second:
            yc = y + row / 2
            d.arrow(384, y_first, 486, yc, f"{p:.0%}", size=11)
            d.box(488, yc - 11, 140, 22, label(i), fill="accent", size=12)
            y += row
    return d


def loop_diagram() -> Diagram:
    """Generation as a loop: ids -> model -> one distribution -> pick -> append."""
    d = Diagram(
        640,
        150,
        title="Generation is a loop around one forward pass",
        description=(
            "The ids so far go into the model, which returns one distribution over the "
            "vocabulary for the next position. A decoding rule picks one token from it, "
            "the token is appended to the ids, and the loop runs again, until enough "
            "tokens are made or an end-of-text token is picked."
        ),
    )
    d.box(10, 40, 120, 44, "ids so far", fill="muted")
    d.arrow(130, 62, 190, 62)
    d.box(192, 40, 110, 44, "model", fill="primary")
    d.arrow(302, 62, 362, 62, "(V,)")
    d.box(364, 40, 130, 44, "distribution", fill="plain")
    d.arrow(494, 62, 540, 62)
    d.box(542, 40, 88, 44, "pick", fill="accent")
    d.line(586, 84, 586, 124).line(586, 124, 70, 124)
    d.arrow(70, 124, 70, 86)
    d.text(
        328, 136, "append the picked token; stop at max tokens or end-of-text", size=12, muted=True
    )
    return d
