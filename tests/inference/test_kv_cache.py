"""The KV cache: cached logits equal uncached ones at every step, for every position
scheme and head layout; memory is allocated once; a full cache refuses; `generate`
slides its window the same way with and without the cache."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from groundup.inference import Decoder, KVCache, generate, positions_of
from groundup.model import GPT, GPTConfig

FLAVOURS: dict[str, dict[str, Any]] = {
    "learned-mha": dict(positions="learned"),
    "sinusoidal-mqa": dict(positions="sinusoidal", n_kv_heads=1),
    "rope-gqa": dict(positions="rope", n_kv_heads=2, norm="rmsnorm", mlp="swiglu"),
    "alibi-mha": dict(positions="alibi"),
    "alibi-explicit": dict(positions="alibi", attention="explicit"),
    "rope-explicit-mqa": dict(positions="rope", n_kv_heads=1, attention="explicit"),
    "none-gqa": dict(positions="none", n_kv_heads=2),
}


def make_model(seed: int = 0, **overrides: object) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=61, block_size=24, n_layer=2, n_head=4, d_model=32)
    return GPT(config.replace(**overrides)).eval()


@pytest.mark.parametrize("flavour", list(FLAVOURS))
def test_cached_logits_equal_uncached_at_every_step(flavour: str) -> None:
    model = make_model(**FLAVOURS[flavour])
    ids = torch.randint(0, 61, (3, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(ids)[0]  # (B, T, V): every prefix at once, no cache
        cache = KVCache(model.config, batch_size=3)
        steps = [model(ids[:, :9], cache=cache)[0]]  # prefill the prompt in one pass
        steps += [model(ids[:, t : t + 1], cache=cache)[0] for t in range(9, 24)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)
    assert cache.length == 24


@pytest.mark.parametrize("flavour", ["learned-mha", "rope-gqa", "alibi-mha"])
def test_left_padded_rows_equal_their_unpadded_runs(flavour: str) -> None:
    model = make_model(**FLAVOURS[flavour])
    rows = [[5, 9, 2, 7, 7, 1], [3, 4], [8, 8, 8, 2]]
    width = 6
    ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
    valid = ids.new_tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows]).bool()
    decoder = Decoder(model, batch_size=3)
    prefill = decoder.feed(ids, valid)
    step = decoder.feed(torch.tensor([[11], [12], [13]]))
    for b, row in enumerate(rows):
        alone = model(torch.tensor([row + [11 + b]]))[0][0]
        torch.testing.assert_close(prefill[b, -len(row) :], alone[:-1], atol=1e-5, rtol=0)
        torch.testing.assert_close(step[b, 0], alone[-1], atol=1e-5, rtol=0)


def test_positions_of_counts_real_tokens_only() -> None:
    valid = torch.tensor([[False, False, True, True], [True, True, True, True]])
    assert positions_of(valid).tolist() == [[0, 0, 0, 1], [0, 1, 2, 3]]


def test_memory_is_allocated_once_and_matches_the_formula() -> None:
    model = make_model(**FLAVOURS["rope-gqa"])
    c = model.config
    cache = KVCache(c, batch_size=2, capacity=20)
    keys, values = cache.keys.data_ptr(), cache.values.data_ptr()
    with torch.no_grad():
        model(torch.randint(0, 61, (2, 5)), cache=cache)
        for _ in range(15):
            model(torch.randint(0, 61, (2, 1)), cache=cache)
    assert (cache.keys.data_ptr(), cache.values.data_ptr()) == (keys, values)
    # 2 (K and V) x layers x batch x kv_heads x tokens x head_dim x bytes
    assert cache.nbytes == 2 * c.n_layer * 2 * c.kv_heads * 20 * c.dim_per_head * 4
    assert cache.keys.shape == (c.n_layer, 2, c.kv_heads, 20, c.dim_per_head)


def test_a_full_cache_refuses_with_a_clear_error() -> None:
    model = make_model()
    cache = KVCache(model.config, batch_size=1, capacity=6)
    model(torch.zeros(1, 6, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="the KV cache is full: it holds 6 of 6"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="capacity must be in"):
        KVCache(model.config, batch_size=1, capacity=25)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        KVCache(model.config, batch_size=0)
    two_rows = KVCache(model.config, batch_size=2, capacity=6)
    with pytest.raises(ValueError, match="made for batch size 2, got 1 rows"):
        model(torch.zeros(1, 3, dtype=torch.long), cache=two_rows)


def test_crop_and_reorder() -> None:
    model = make_model(**FLAVOURS["learned-mha"])
    ids = torch.randint(0, 61, (2, 8), generator=torch.Generator().manual_seed(3))
    cache = KVCache(model.config, batch_size=2)
    with torch.no_grad():
        model(ids[:, :6], cache=cache)
        cache.crop(4)  # forget two tokens, then feed others in their place
        got = model(ids[:, 6:8], cache=cache)[0]
        expected = model(torch.cat([ids[:, :4], ids[:, 6:8]], 1))[0][:, 4:]
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
        cache.reorder(torch.tensor([1, 1]))  # both rows now follow row 1
        step = model(torch.tensor([[5], [5]]), cache=cache)[0]
        assert torch.allclose(step[0], step[1], atol=1e-6)
    with pytest.raises(ValueError, match="can crop"):
        cache.crop(99)


@pytest.mark.parametrize("flavour", ["learned-mha", "rope-gqa", "alibi-mha"])
def test_generation_slides_past_the_context_the_same_with_and_without_cache(
    flavour: str,
) -> None:
    model = make_model(**FLAVOURS[flavour])
    prompt = [[4, 8, 15, 16, 23], [42, 7]]
    new = 40  # the context is 24: the window slides twice
    cached = generate(model, prompt, new, temperature=0.9, top_k=20, seed=5)
    uncached = generate(model, prompt, new, temperature=0.9, top_k=20, seed=5, use_cache=False)
    assert cached.shape == (2, 5 + new)
    assert torch.equal(cached, uncached)


def test_after_a_slide_the_model_sees_the_last_half_of_the_window() -> None:
    model = make_model()
    full = generate(model, [1, 2, 3], 22)  # the 22nd new token follows a full window of 24
    longer = generate(model, [1, 2, 3], 23)
    assert torch.equal(longer[:, :25], full)
    # feeding the 25th token slides the window: the 26th follows the last 12 tokens,
    # read again from position 0
    restart = generate(model, longer[:, 13:25], 1)
    assert longer[0, 25] == restart[0, -1]
