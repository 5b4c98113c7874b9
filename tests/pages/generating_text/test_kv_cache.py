"""docs/generating-text/kv-cache.md: cached logits equal uncached ones, the cache's bytes
equal the formula (MHA, GQA, MQA, any batch and dtype), the published-shape claims, the
drawn cache growth, and the speedup measurement's plumbing."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import groundup.inference.kv_cache as kv_cache_module
from groundup.inference import Decoder, KVCache, generate
from groundup.model import GPT, GPTConfig
from groundup.pages.generating_text.kv_cache import (
    TOLERANCE,
    allocated_bytes,
    cache_growth,
    cache_growth_diagram,
    cached_vs_uncached,
    formula_bytes,
    generation_seconds,
)
from groundup.pages.transformer.counting import published_shapes
from groundup.pages.transformer.kv_budget import model_parameters
from model_shapes import tiny_gpt


def tiny(flavour: str = "gpt2", **overrides: object) -> GPT:
    return tiny_gpt(flavour, vocab_size=53, block_size=32, **overrides)


# ------------------------------------------------------------------ exactness
@pytest.mark.parametrize(
    "flavour,overrides",
    [("gpt2", {}), ("llama", {"n_kv_heads": 2}), ("llama", {"n_kv_heads": 1})],
)
def test_cached_logits_equal_uncached_at_every_step(flavour: str, overrides: dict) -> None:
    model = tiny(flavour, **overrides)
    gaps = cached_vs_uncached(model, [3, 1, 4, 1, 5], new_tokens=20)
    assert len(gaps) == 21  # the prefill and every decode step
    assert max(gaps) <= TOLERANCE
    assert gaps[0] <= TOLERANCE  # the prefill: the same computation on both sides


def test_the_check_fails_when_the_cache_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny()
    update = kv_cache_module.LayerCache.update

    def forgetful(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = update(self, k, v)
        return keys, torch.zeros_like(values)  # loses every cached value

    monkeypatch.setattr(kv_cache_module.LayerCache, "update", forgetful)
    assert max(cached_vs_uncached(model, [3, 1, 4], new_tokens=5)) > 1e-2


def test_the_check_refuses_a_run_that_would_slide() -> None:
    with pytest.raises(ValueError, match="block_size"):
        cached_vs_uncached(tiny(), list(range(30)), new_tokens=3)


def test_update_returns_views_of_the_preallocated_cache_and_nothing_moves() -> None:
    model = tiny()
    decoder = Decoder(model, 1, use_cache=True, capacity=12)
    cache = decoder.cache
    assert cache is not None
    start = (cache.keys.data_ptr(), cache.values.data_ptr())
    decoder.feed(torch.tensor([[1, 2, 3]]))
    for t in range(5):
        decoder.feed(torch.tensor([[t]]))
    assert (cache.keys.data_ptr(), cache.values.data_ptr()) == start  # never copied
    keys, values = cache.layer(0).update(torch.ones(1, 4, 1, 8), torch.ones(1, 4, 1, 8))
    assert keys.data_ptr() == cache.keys[0].data_ptr()  # a view, not a copy
    assert values.data_ptr() == cache.values[0].data_ptr()


# ------------------------------------------------------------------ memory
@settings(max_examples=40, deadline=None)
@given(
    n_layer=st.integers(1, 4),
    n_kv_heads=st.sampled_from([1, 2, 4, 8]),
    group=st.sampled_from([1, 2, 4]),
    head_dim=st.sampled_from([4, 8, 16]),
    batch=st.integers(1, 5),
    tokens=st.integers(1, 64),
    dtype=st.sampled_from([torch.float32, torch.bfloat16, torch.float16]),
    device=st.sampled_from(["cpu", "meta"]),
)
def test_kv_cache_bytes_equal_the_formula(
    n_layer: int,
    n_kv_heads: int,
    group: int,
    head_dim: int,
    batch: int,
    tokens: int,
    dtype: torch.dtype,
    device: str,
) -> None:
    n_head = n_kv_heads * group  # MHA when group is 1, GQA, MQA when n_kv_heads is 1
    config = GPTConfig.llama(
        vocab_size=16, block_size=64, n_layer=n_layer, n_head=n_head, n_kv_heads=n_kv_heads,
        d_model=n_head * head_dim,
    )  # fmt: skip
    size = torch.tensor([], dtype=dtype).element_size()
    expected = 2 * n_layer * n_kv_heads * head_dim * tokens * batch * size
    assert formula_bytes(config, batch, tokens, size) == expected
    assert allocated_bytes(config, batch, tokens, dtype, device) == expected


def test_allocated_bytes_counts_the_real_tensors_and_extends_the_context() -> None:
    config = GPTConfig(vocab_size=16, block_size=8, n_layer=2, n_head=4, d_model=32)
    cache = KVCache(config, 3, 8)
    assert allocated_bytes(config, 3, 8, torch.float32) == cache.keys.nbytes * 2
    # a what-if context past block_size is measured on a config with a longer context
    assert allocated_bytes(config, 1, 100, torch.float32, "meta") == formula_bytes(
        config, 1, 100, 4
    )


def test_published_shape_claims() -> None:
    shapes = published_shapes()
    llama70 = shapes["Llama 2 70B"]
    assert (llama70.n_head, llama70.kv_heads) == (64, 8)
    assert shapes["Llama 3 8B"].kv_heads == 8 and shapes["Llama 2 7B"].kv_heads == 32
    gqa = allocated_bytes(llama70, 1, 131_072, torch.bfloat16, "meta")
    mha = allocated_bytes(llama70.replace(n_kv_heads=None), 1, 131_072, torch.bfloat16, "meta")
    mqa = allocated_bytes(llama70.replace(n_kv_heads=1), 1, 131_072, torch.bfloat16, "meta")
    assert mha == 8 * gqa == 64 * mqa  # the cache shrinks by n_head / n_kv_heads
    weights = model_parameters(llama70) * 2
    assert mha > weights > gqa  # with MHA, a 128K cache would outweigh the weights
    assert allocated_bytes(llama70, 1, 4096, torch.bfloat16, "meta") == 1.25 * 2**30
    # same head width, fewer layers: the 8B's cache is n_layer / 80 of the 70B's
    llama3 = shapes["Llama 3 8B"]
    assert llama3.dim_per_head == llama70.dim_per_head and llama3.n_layer == 32


# ------------------------------------------------------------------ the drawing
def test_cache_growth_reads_the_cache_after_every_feed() -> None:
    model = tiny()
    snapshots = cache_growth(model, [5, 6, 7, 8, 9], steps=4, capacity=12, token_text=str)
    assert [s.length for s in snapshots] == [5, 6, 7, 8, 9]
    assert [s.new for s in snapshots] == [5, 1, 1, 1, 1]
    assert {s.capacity for s in snapshots} == {12}
    assert [s.label for s in snapshots] == [
        "prefill",
        "decode 1",
        "decode 2",
        "decode 3",
        "decode 4",
    ]
    assert snapshots[0].tokens == ["5", "6", "7", "8", "9"]
    assert all(len(s.tokens) == s.length for s in snapshots)
    # the tokens drawn are the greedy continuation
    greedy = generate(model, [5, 6, 7, 8, 9], 4)[0].tolist()
    assert snapshots[-1].tokens == [str(i) for i in greedy]


def test_cache_growth_diagram_draws_every_slot_of_every_step() -> None:
    snapshots = cache_growth(tiny(), [1, 2, 3], steps=2, capacity=7, token_text=lambda i: " \n")
    svg = cache_growth_diagram(snapshots).svg()
    assert svg.count("<rect") == 3 * 7 + 3  # every slot, and three legend swatches
    assert svg.count('class="fill-accent"') == 3 + 1 + 1 + 1  # prefill 3, two steps 1 each, legend
    assert svg.count('stroke-dasharray="4 3"') == (7 - 3) + (7 - 4) + (7 - 5) + 1
    assert "·⏎" in svg  # a space and a newline, made visible
    assert "A cache of 7 slots" in svg and "5 are filled and 2 stay empty" in svg


def test_generation_seconds_times_a_real_generation() -> None:
    seconds = generation_seconds(tiny(), [1, 2, 3], 4, use_cache=True, repeats=1)
    assert isinstance(seconds, float)
    assert torch.get_num_threads() >= 1  # one_thread restored the setting


# ------------------------------------------------------------------ the site model
@pytest.mark.slow
def test_on_the_site_model_cached_equals_uncached() -> None:
    from groundup.site import load_site_model

    site = load_site_model()
    model, tok = site.model, site.tokenizer
    text = "def read_lines(path):\n    with open(path) as f:\n        return [line.rstrip() for line in f]\n"
    prompt = tok.encode_ordinary(text)[:16]
    assert len(prompt) == 16
    new = model.config.block_size - len(prompt)
    gaps = cached_vs_uncached(model, prompt, new)
    assert max(gaps) <= TOLERANCE
    assert max(gaps) > 0  # the page says the differences are rounding, not zero
    assert generate(model, prompt, new).equal(generate(model, prompt, new, use_cache=False))
    config = model.config
    assert allocated_bytes(config, 1, config.block_size, torch.float32) == formula_bytes(
        config, 1, config.block_size, 4
    )
