"""The site model: trained (its time recorded, not asserted), better than the unigram baseline, and the
held-out and unigram measurements it is judged by."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from groundup.model import GPT, GPTConfig
from groundup.site import SITE_MODEL, SITE_TRAINING, load_site_model, site_token_files
from groundup.train import open_tokens
from groundup.train.heldout import heldout_loss, unigram_loss


@pytest.fixture(scope="module")
def site():
    return load_site_model()


def test_site_model_is_the_configured_gpt(site):
    config = site.model.config
    assert isinstance(site.model, GPT) and not site.model.training
    assert (config.n_layer, config.n_head, config.d_model) == (
        SITE_MODEL["n_layer"],
        SITE_MODEL["n_head"],
        SITE_MODEL["d_model"],
    )
    assert config.vocab_size == site.tokenizer.vocab_size
    assert config.block_size == SITE_TRAINING["block_size"]
    assert len(site.losses) == SITE_TRAINING["max_steps"]


def test_training_time_is_recorded(site):
    assert site.train_seconds > 0  # a reported figure (the page prints it), never a budget test


def test_clearly_beats_the_unigram_baseline(site):
    assert site.heldout_loss < site.unigram_loss - 1.0
    assert site.eval_losses[max(site.eval_losses)] < site.eval_losses[0] - 2.0


def test_token_files_hold_the_site_corpus(site):
    train_path, heldout_path = site_token_files()
    heldout = open_tokens(heldout_path)
    assert (
        site.tokenizer.decode(heldout.tolist()) == __import__("groundup.site").site.site_corpus()[1]
    )
    assert site.heldout_tokens == len(heldout) and len(open_tokens(train_path)) > 8 * len(heldout)


def test_samples_are_text(site):
    prompt = torch.tensor([site.tokenizer.encode("The ")])
    out = site.model.generate(
        prompt, 30, temperature=0.8, top_k=40, generator=torch.Generator().manual_seed(0)
    )
    text = site.tokenizer.decode(out[0].tolist())
    assert text.startswith("The ") and len(text) > 40


# ---------------------------------------------------------------- the measurements
def test_unigram_loss_of_uniform_counts_is_log_v():
    ids = np.arange(10).repeat(5)
    assert unigram_loss(ids, ids, 10, alpha=0.0) == pytest.approx(math.log(10))


def test_unigram_loss_by_hand():
    train, held = np.array([0, 0, 0, 1]), np.array([1, 0, 1])
    p0, p1 = (3 + 1) / (4 + 3), (1 + 1) / (4 + 3)  # vocab 3, alpha 1
    assert unigram_loss(train, held, 3) == pytest.approx(-(math.log(p0) + math.log(p1)) / 2)


@pytest.mark.parametrize("n", [2, 17, 33, 64, 65, 100])
def test_heldout_loss_scores_every_token_once(n):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=23, block_size=16, n_layer=1, n_head=2, d_model=16)).eval()
    ids = torch.randint(0, 23, (n,))
    # the same windows one at a time, summed by hand
    total, count = 0.0, 0
    for s in range(0, n - 1, 16):
        w = ids[s : s + 17]
        logits, _ = model(w[None, :-1])
        total += torch.nn.functional.cross_entropy(logits[0], w[1:], reduction="sum").item()
        count += len(w) - 1
    assert count == n - 1
    assert heldout_loss(model, ids.numpy(), batch_size=3) == pytest.approx(total / count, rel=1e-5)


def test_heldout_loss_needs_two_tokens():
    model = GPT(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, d_model=4))
    with pytest.raises(ValueError, match="at least 2 tokens"):
        heldout_loss(model, np.array([1]))


def test_the_heldout_loss_is_scored_once_and_kept_in_the_summary(site):
    """A load reads the held-out loss the run's summary keeps; a summary scored by other
    code (another key) is scored again, to the same value."""
    import json

    from groundup import site as site_module

    summary_path = site.run_dir / "summary.json"
    original = summary_path.read_text()
    kept = json.loads(original)["heldout"]
    assert kept["loss"] == site.heldout_loss
    assert site.heldout_loss == heldout_loss(site.model, open_tokens(site_token_files()[1]))
    try:
        for key, expected in ((kept["key"], 99.0), ("scored by other code", site.heldout_loss)):
            summary = {**json.loads(original), "heldout": {"key": key, "loss": 99.0}}
            summary_path.write_text(json.dumps(summary))
            site_module._load_run.cache_clear()
            assert load_site_model().heldout_loss == expected
    finally:
        summary_path.write_text(original)
        site_module._load_run.cache_clear()
