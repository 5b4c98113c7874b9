"""AdamW groups, gradient clipping, the loss, and evaluation on the real GPT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groundup.model import GPT, GPTConfig
from groundup.train import (
    BatchLoader,
    clip_gradients,
    cross_entropy,
    evaluate,
    make_optimizer,
    param_groups,
    write_tokens,
)
from model_shapes import Shape

SMALL: Shape = {"vocab_size": 64, "block_size": 16, "n_layer": 2, "n_head": 2, "d_model": 32}


def grad_of(p: torch.Tensor) -> torch.Tensor:
    """`p.grad`, which must be set (a type checker sees Tensor | None)."""
    assert p.grad is not None
    return p.grad


@pytest.mark.parametrize("flavour", ["gpt2", "llama"])
def test_weight_decay_only_on_matrices(flavour: str) -> None:
    model = GPT(getattr(GPTConfig, flavour)(**SMALL))
    decay, no_decay = param_groups(model, weight_decay=0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    not_decayed = {names[id(p)] for p in no_decay["params"]}
    assert decayed and not_decayed and not decayed & not_decayed
    assert all(p.dim() >= 2 for p in decay["params"])
    assert all(p.dim() < 2 for p in no_decay["params"])
    assert "tok_emb.weight" in decayed and "blocks.0.attn.qkv.weight" in decayed
    assert "norm_f.weight" in not_decayed and not any(".norm" in n for n in decayed)
    assert not any(n.endswith("bias") for n in decayed)
    if flavour == "gpt2":
        assert "blocks.1.mlp.fc.bias" in not_decayed
    # every parameter exactly once (the tied head is the embedding, listed once)
    n_params = sum(p.numel() for g in (decay, no_decay) for p in g["params"])
    assert n_params == model.num_parameters()


def test_adamw_decays_matrices_and_leaves_gains() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(**SMALL))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = make_optimizer(model, lr=0.1, weight_decay=0.5)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no gradient: only weight decay moves anything
    opt.step()
    after = dict(model.named_parameters())
    torch.testing.assert_close(
        after["blocks.0.attn.qkv.weight"], before["blocks.0.attn.qkv.weight"] * (1 - 0.1 * 0.5)
    )
    assert torch.equal(after["norm_f.weight"], before["norm_f.weight"])
    assert torch.equal(after["blocks.0.norm1.bias"], before["blocks.0.norm1.bias"])


def test_clip_gradients() -> None:
    model = torch.nn.Linear(3, 2)
    for p in model.parameters():
        p.grad = torch.full_like(p, 2.0)  # 8 entries of 2: norm sqrt(32)
    norm = clip_gradients(model, max_norm=1.0)
    assert norm == pytest.approx(32**0.5)
    new_norm = torch.cat([grad_of(p).flatten() for p in model.parameters()]).norm()
    assert new_norm.item() == pytest.approx(1.0, rel=1e-5)
    # below the limit, or with clipping off, the gradients are untouched
    for limit in (100.0, 0.0):
        for p in model.parameters():
            p.grad = torch.full_like(p, 2.0)
        assert clip_gradients(model, max_norm=limit) == pytest.approx(32**0.5)
        assert all(torch.equal(grad_of(p), torch.full_like(p, 2.0)) for p in model.parameters())


def test_cross_entropy_matches_the_model_and_the_definition() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(**SMALL))
    x, y = torch.randint(64, (3, 16)), torch.randint(64, (3, 16))
    logits, loss = model(x, y)
    torch.testing.assert_close(cross_entropy(logits, y), loss)
    log_probs = torch.log_softmax(logits, dim=-1)
    by_hand = -log_probs.gather(-1, y.unsqueeze(-1)).mean()
    torch.testing.assert_close(cross_entropy(logits, y), by_hand)
    # an untrained model is close to guessing uniformly: loss near log(vocab)
    assert abs(loss.item() - np.log(64)) < 0.5


def test_evaluate_is_deterministic_and_restores_mode(tmp_path) -> None:
    path = write_tokens(tmp_path / "t.bin", np.random.default_rng(0).integers(0, 64, 2000), 64)
    loader = BatchLoader(path, batch_size=4, block_size=16, seed=0, stream=1)
    torch.manual_seed(0)
    model = GPT(GPTConfig(**SMALL, dropout=0.5))
    model.train()
    first = evaluate(model, loader, iters=5)
    assert model.training
    assert evaluate(model, loader, iters=5) == first  # same batches, dropout off
    by_hand = np.mean([model.eval()(*loader.batch(i))[1].item() for i in range(5)])
    assert first == pytest.approx(by_hand)
    # split across 2 "ranks", the parts add up to the whole
    parts = [evaluate(model, loader, iters=5, part=(r, 2)) for r in range(2)]
    assert sum(parts) == pytest.approx(first)
    with pytest.raises(ValueError):
        evaluate(model, loader, iters=0)


def test_frozen_parameters_are_left_out_of_the_groups():
    from groundup.model import GPT, GPTConfig
    from groundup.train.optim import param_groups

    model = GPT(GPTConfig(vocab_size=32, block_size=8, n_layer=1, n_head=2, d_model=16))
    model.tok_emb.weight.requires_grad_(False)  # also the tied head
    model.layers[0].norm1.bias.requires_grad_(False)
    groups = param_groups(model, weight_decay=0.1)
    grouped = {id(p) for g in groups for p in g["params"]}
    assert id(model.tok_emb.weight) not in grouped
    assert id(model.layers[0].norm1.bias) not in grouped
    assert len(grouped) == sum(1 for p in model.parameters() if p.requires_grad)
