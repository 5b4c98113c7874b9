"""The site's draft model for speculative decoding: the site model's vocabulary, a
fraction of its weights, trained as configured, and exact as a draft."""

from __future__ import annotations

import pytest
import torch

from groundup import site
from groundup.inference import generate
from groundup.inference.speculative import speculative_generate


@pytest.fixture(scope="module")
def pair() -> tuple[site.SiteModel, site.SiteModel]:
    return site.load_site_model(), site.load_site_draft()


def test_the_draft_is_the_configured_smaller_model(
    pair: tuple[site.SiteModel, site.SiteModel],
) -> None:
    target, draft = pair
    c = draft.model.config
    assert (c.n_layer, c.n_head, c.d_model) == tuple(
        site.SITE_DRAFT_MODEL[k] for k in ("n_layer", "n_head", "d_model")
    )
    assert c.vocab_size == target.model.config.vocab_size
    assert c.block_size == target.model.config.block_size
    assert len(draft.losses) == site.SITE_DRAFT_TRAINING["max_steps"]
    assert draft.model.num_parameters() < target.model.num_parameters() / 2
    assert draft.heldout_loss < draft.unigram_loss - 1.0  # it learned something


def test_speculative_greedy_with_the_draft_is_the_site_models_greedy(
    pair: tuple[site.SiteModel, site.SiteModel],
) -> None:
    target, draft = pair
    prompt = target.tokenizer.encode_ordinary("The function returns a new list of")
    expected = generate(target.model, prompt, 60)
    got, stats = speculative_generate(target.model, draft.model, prompt, 60, gamma=3)
    assert torch.equal(got, expected)
    assert stats.accepted > 0  # the draft agrees with the target at least sometimes
