"""`GPT.forward(idx, positions=...)`: explicit token positions, for every position
scheme and for multi-head, grouped-query and multi-query attention."""

from __future__ import annotations

import itertools

import pytest
import torch

from groundup.model import GPT, GPTConfig
from groundup.model.config import Attention, Positions
from model_shapes import Shape

TINY = Shape(vocab_size=61, block_size=24, n_layer=2, n_head=4, d_model=32)
FLAVOURS: list[Positions] = ["learned", "sinusoidal", "rope", "alibi", "none"]
# (positions, n_kv_heads, attention): every scheme with MHA, GQA and MQA, both attention paths
CASES = list(itertools.product(FLAVOURS, [4, 2, 1], ["sdpa", "explicit"]))
CASE_IDS = [f"{p}-kv{kv}-{a}" for p, kv, a in CASES]


def make_model(positions: Positions, n_kv_heads: int = 4, attention: Attention = "sdpa") -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(**TINY, positions=positions, n_kv_heads=n_kv_heads, attention=attention)
    return GPT(config).eval()


def ids(batch: int = 3, T: int = 10, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, TINY["vocab_size"], (batch, T), generator=g)


@pytest.mark.parametrize("flavour,kv,attention", CASES, ids=CASE_IDS)
def test_explicit_arange_is_the_default_exactly(flavour, kv, attention):
    model = make_model(flavour, kv, attention)
    idx = ids()
    targets = ids(seed=1)
    B, T = idx.shape
    expected, expected_loss = model(idx, targets)
    for positions in [
        torch.arange(T),
        torch.arange(T)[None],  # (1, T), Hugging Face's usual shape
        torch.arange(T, dtype=torch.int32),
    ]:
        logits, loss = model(idx, targets, positions=positions)
        assert torch.equal(logits, expected)
        assert torch.equal(loss, expected_loss)
    # the same positions given per row: the same values, though a (B, H, T, T) ALiBi
    # mask may take another path through the fused attention kernel than (H, T, T)
    per_row, _ = model(idx, positions=torch.arange(T).expand(B, T))
    torch.testing.assert_close(per_row, expected, atol=1e-6, rtol=0)


def shifted_tables(model: GPT, k: int) -> GPT:
    """A copy of model whose position tables start k rows later: its position p is
    the original's position p + k."""
    shifted = make_model(model.config.positions, model.config.kv_heads, model.config.attention)
    shifted.load_state_dict(model.state_dict())
    with torch.no_grad():
        if model.config.positions == "learned":
            shifted.pos_emb.weight.copy_(model.pos_emb.weight.roll(-k, dims=0))
        if model.config.positions == "sinusoidal":
            shifted.pos_table.copy_(model.pos_table.roll(-k, dims=0))
        if model.config.positions == "rope":
            shifted.rope_cos.copy_(model.rope_cos.roll(-k, dims=0))
            shifted.rope_sin.copy_(model.rope_sin.roll(-k, dims=0))
        if model.config.positions == "alibi":
            shifted.alibi.copy_(model.alibi.roll((-k, -k), dims=(1, 2)))
    return shifted


@pytest.mark.parametrize("flavour,kv,attention", CASES, ids=CASE_IDS)
def test_offset_positions_read_the_tables_at_the_offset(flavour, kv, attention):
    model = make_model(flavour, kv, attention)
    idx = ids(T=9)
    k = 11
    got, _ = model(idx, positions=torch.arange(k, k + 9))
    expected, _ = shifted_tables(model, k)(idx)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_only_relative_schemes_ignore_a_common_shift(flavour):
    """RoPE and ALiBi see only differences of positions: shifting them all changes
    nothing (exactly for ALiBi, up to rounding of the rotation angles for RoPE);
    learned and sinusoidal positions are absolute; no positions, nothing to shift."""
    model = make_model(flavour)
    idx = ids(T=8)
    base, _ = model(idx)
    shifted, _ = model(idx, positions=torch.arange(13, 21))
    if flavour in ("alibi", "none"):
        assert torch.equal(shifted, base)
    elif flavour == "rope":
        torch.testing.assert_close(shifted, base, atol=1e-5, rtol=0)
        assert not torch.equal(shifted, base)
    else:
        assert not torch.allclose(shifted, base, atol=1e-3)


@pytest.mark.parametrize("flavour,kv,attention", CASES, ids=CASE_IDS)
def test_per_row_positions_equal_each_row_run_alone(flavour, kv, attention):
    model = make_model(flavour, kv, attention)
    idx = ids(batch=3, T=7, seed=2)
    g = torch.Generator().manual_seed(3)
    positions = torch.stack(
        [
            torch.arange(7),
            torch.arange(7) + 16,
            torch.randint(0, TINY["block_size"], (7,), generator=g),  # any order, repeats
        ]
    )
    batched, _ = model(idx, positions=positions)
    for row in range(3):
        alone, _ = model(idx[row : row + 1], positions=positions[row])
        torch.testing.assert_close(batched[row], alone[0], atol=1e-6, rtol=1e-5)
    if flavour in ("learned", "sinusoidal"):  # rows 0 and 1 differ only by a shift
        same_ids, _ = model(idx[:1].expand(2, 7), positions=positions[:2])
        assert not torch.allclose(same_ids[0], same_ids[1], atol=1e-3)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_packed_row(flavour):
    """Two documents in one row, positions restarting at the second: the first
    document's logits are those of the document alone; the second's are not, as
    positions mask nothing and it still attends to the first (the documented contract)."""
    model = make_model(flavour, n_kv_heads=2)
    doc1, doc2 = ids(batch=1, T=6, seed=4), ids(batch=1, T=5, seed=5)
    row = torch.cat([doc1, doc2], dim=1)
    positions = torch.cat([torch.arange(6), torch.arange(5)])
    packed, _ = model(row, positions=positions)
    torch.testing.assert_close(packed[:, :6], model(doc1)[0], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(packed[:, 6:], model(doc2)[0], atol=1e-3)


def test_positions_carry_gradients_to_the_rows_they_read():
    """Learned positions: only the table rows the positions name get a gradient."""
    model = make_model("learned")
    idx = ids(batch=2, T=4)
    _, loss = model(idx, ids(batch=2, T=4, seed=1), positions=torch.tensor([[3, 4, 5, 6], [9] * 4]))
    loss.backward()
    grad = model.pos_emb.weight.grad
    assert grad is not None
    used = grad.abs().sum(dim=1) > 0
    assert used.nonzero().flatten().tolist() == [3, 4, 5, 6, 9]


@pytest.mark.parametrize(
    "positions,error,match",
    [
        (torch.arange(5.0), TypeError, "must hold integers"),
        (torch.ones(5, dtype=torch.bool), TypeError, "must hold integers"),
        ([0, 1, 2, 3, 4], TypeError, "torch.Tensor"),
        (torch.arange(6), ValueError, r"shape \(T,\) = \(5,\)"),
        (torch.zeros(3, 5, dtype=torch.long), ValueError, r"\(B, T\) = \(2, 5\)"),
        (torch.zeros(2, 5, 1, dtype=torch.long), ValueError, "must have shape"),
        (torch.tensor([0, 1, -1, 2, 3]), ValueError, "position -1 is negative"),
        (torch.arange(20, 25), ValueError, "position 24 is out of range.*block_size=24"),
        (torch.arange(5, device="meta"), ValueError, "positions are on meta"),
    ],
    ids=["float", "bool", "list", "length", "batch", "rank-3", "negative", "too-far", "device"],
)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_bad_positions_are_rejected_clearly(flavour, positions, error, match):
    model = make_model(flavour)
    with pytest.raises(error, match=match):
        model(ids(batch=2, T=5), positions=positions)
