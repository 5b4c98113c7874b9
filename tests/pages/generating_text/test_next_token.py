"""docs/generating-text/next-token.md: entropy, the next-token summary, entropy against
surprisal over held-out text, the calibration groups, the two-token tree and its
drawing, and the chain rule by a decoding loop and by one pass."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.model import GPT
from groundup.pages.generating_text.next_token import (
    calibration,
    entropy,
    entropy_and_surprisal,
    logprob_by_loop,
    logprob_in_one_pass,
    loop_diagram,
    next_token,
    tree_diagram,
    two_token_tree,
)
from model_shapes import tiny_gpt


def tiny(flavour: str = "gpt2", **overrides: object) -> GPT:
    return tiny_gpt(flavour, vocab_size=61, block_size=24, **overrides)


# ------------------------------------------------------------------ entropy
def test_entropy_of_one_hot_is_zero_and_of_uniform_is_ln_v() -> None:
    V = 4096
    one_hot = torch.zeros(V)
    one_hot[7] = 1.0
    assert entropy(one_hot).item() == 0.0
    assert entropy(torch.full((V,), 1 / V)).item() == pytest.approx(math.log(V), rel=1e-5)
    assert math.log(V) == pytest.approx(8.32, abs=0.005)  # the quiz's number


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 200), st.integers(0, 10_000), st.floats(0.1, 10.0))
def test_entropy_matches_torch_categorical_and_is_bounded(V: int, seed: int, scale: float) -> None:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, V, generator=g, dtype=torch.float64) * scale
    probs = torch.softmax(logits, dim=-1)
    ours = entropy(probs)
    theirs = torch.distributions.Categorical(probs=probs).entropy()
    torch.testing.assert_close(ours, theirs)
    assert bool((ours >= 0).all()) and bool((ours <= math.log(V) + 1e-9).all())


# ------------------------------------------------------------------ next_token
def test_next_token_reads_the_softmax_of_the_last_row() -> None:
    model = tiny()
    ids = [3, 14, 15, 9, 2]
    answer = next_token(model, ids, "p", k=4)
    with torch.no_grad():
        probs = torch.softmax(model(torch.tensor([ids]))[0][0, -1], dim=-1)
    values, indices = probs.topk(4)
    assert [i for i, _ in answer.top] == indices.tolist()
    assert [p for _, p in answer.top] == pytest.approx(values.tolist())
    assert answer.entropy == pytest.approx(entropy(probs).item(), rel=1e-5)
    assert answer.bits == pytest.approx(answer.entropy / math.log(2))
    assert answer.effective_choices == pytest.approx(math.exp(answer.entropy))
    assert answer.vocab_size == 61 and answer.prompt == "p"


# ------------------------------------------------------------------ entropy vs surprisal
def test_mean_surprisal_is_the_models_cross_entropy() -> None:
    model = tiny()
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 61, size=3 * 25 + 5).astype(np.uint16)
    ent, surprisal = entropy_and_surprisal(model, ids, windows=3)
    assert ent.shape == surprisal.shape == (3 * 24,)
    chunk = torch.as_tensor(ids[: 3 * 25].astype(np.int64)).view(3, 25)
    with torch.no_grad():
        logits = model(chunk[:, :-1])[0]
    loss = F.cross_entropy(logits.reshape(-1, 61), chunk[:, 1:].reshape(-1))
    assert surprisal.mean() == pytest.approx(loss.item(), rel=1e-5)
    expected = entropy(torch.softmax(logits, dim=-1)).flatten().numpy()
    np.testing.assert_allclose(ent, expected, rtol=1e-5)


def test_entropy_and_surprisal_refuses_too_little_text() -> None:
    with pytest.raises(ValueError, match="need 75 tokens for 3 windows"):
        entropy_and_surprisal(tiny(), np.zeros(74, dtype=np.uint16), windows=3)


def test_calibration_groups_are_sorted_and_cover_every_position() -> None:
    rng = np.random.default_rng(1)
    ent = rng.random(103) * 5
    surprisal = ent + rng.normal(0, 0.1, 103)
    groups = calibration(ent, surprisal, bins=8)
    assert len(groups) == 8
    assert sum(n for _, _, n in groups) == 103
    means = [h for h, _, _ in groups]
    assert means == sorted(means)
    # a calibrated toy (surprisal = entropy + noise) lies near the diagonal
    assert all(abs(h - s) < 0.2 for h, s, _ in groups)
    with pytest.raises(ValueError, match="same shape"):
        calibration(ent, surprisal[:-1])


# ------------------------------------------------------------------ the tree
def test_two_token_tree_equals_a_pass_per_first_token() -> None:
    model = tiny()
    ids = [5, 6, 7]
    tree = two_token_tree(model, ids, width=3)
    first = next_token(model, ids, k=3).top
    assert [(b.first, b.p_first) for b in tree] == first
    for branch in tree:
        again = next_token(model, ids + [branch.first], k=3).top
        assert [i for i, _ in branch.second] == [i for i, _ in again]
        assert [p for _, p in branch.second] == pytest.approx([p for _, p in again], rel=1e-5)


def test_the_diagrams_carry_their_text_alternative() -> None:
    model = tiny()
    tree = two_token_tree(model, [1, 2], width=2)
    svg = tree_diagram(tree, lambda i: f"t{i}", "x = ").svg()
    assert "<title" in svg and "<desc" in svg and 'role="img"' in svg
    for branch in tree:
        assert f">t{branch.first}<" in svg
        for i, _ in branch.second:
            assert f">t{i}<" in svg
    assert svg.count("<rect") == 1 + 2 + 4  # the prompt, 2 first tokens, 2 x 2 second ones
    loop = loop_diagram().svg()
    assert "append the picked token" in loop and "<desc" in loop


# ------------------------------------------------------------------ the chain rule
@pytest.mark.parametrize(
    "flavour,overrides",
    [
        ("gpt2", {}),
        ("llama", {"n_kv_heads": 2}),
        ("gpt2", {"positions": "alibi"}),
        ("gpt2", {"positions": "sinusoidal"}),
    ],
)
def test_chain_rule_by_the_loop_equals_one_pass(flavour: str, overrides: dict) -> None:
    model = tiny(flavour, **overrides)
    prompt, continuation = [1, 2, 3, 4], [9, 8, 7, 6, 5, 4, 3, 2]
    by_loop = logprob_by_loop(model, prompt, continuation)
    at_once = logprob_in_one_pass(model, prompt, continuation)
    assert by_loop == pytest.approx(at_once, abs=1e-4)
    assert by_loop < 0


def test_the_chain_rule_check_notices_a_wrong_continuation() -> None:
    model = tiny()
    prompt = [1, 2, 3]
    assert logprob_by_loop(model, prompt, [4, 5, 6]) != pytest.approx(
        logprob_in_one_pass(model, prompt, [4, 5, 7]), abs=1e-4
    )


# ------------------------------------------------------------------ the site model
@pytest.mark.slow
def test_on_the_site_model() -> None:
    from groundup.site import load_site_model, site_token_files
    from groundup.train.data import open_tokens

    site = load_site_model()
    model, tok = site.model, site.tokenizer
    heldout = open_tokens(site_token_files()[1])
    context, continuation = heldout[5000:5024].tolist(), heldout[5024:5048].tolist()
    assert logprob_by_loop(model, context, continuation) == pytest.approx(
        logprob_in_one_pass(model, context, continuation), abs=1e-4
    )
    ent, surprisal = entropy_and_surprisal(model, heldout, windows=4)
    assert 0 < ent.mean() < math.log(model.config.vocab_size)
    sure = next_token(model, tok.encode_ordinary("def __init__(self"))
    assert sure.entropy < math.log(model.config.vocab_size) / 2
