"""docs/generating-text/prefill-and-decode.md: the FLOP count against PyTorch's own
counter, the crossover, the pass timer's plumbing, the matmul timer, the long run's
sliding window against the rule in `Decoder.feed`, and the diagram."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from groundup.inference import Decoder, generate
from groundup.model import GPT, GPTConfig
from groundup.pages.generating_text.prefill_and_decode import (
    attention_crossover,
    flops_per_token,
    long_run,
    matmul_seconds,
    pass_seconds,
    passes_diagram,
)
from groundup.pages.transformer.counting import published_shapes
from model_shapes import tiny_gpt


def tiny(flavour: str = "gpt2", **overrides: object) -> GPT:
    return tiny_gpt(flavour, vocab_size=61, block_size=24, **overrides)


# ------------------------------------------------------------------ FLOPs
@pytest.mark.parametrize(
    "flavour,overrides",
    [
        ("gpt2", {}),
        ("gpt2", {"positions": "rope"}),
        ("llama", {}),  # SwiGLU
        ("llama", {"n_kv_heads": 2}),  # GQA
        ("llama", {"n_kv_heads": 1, "head_dim": 16}),  # MQA, heads wider than d / n_head
    ],
)
@pytest.mark.parametrize("context", [1, 10, 23])
def test_flops_per_token_equals_torchs_flop_counter(
    flavour: str, overrides: dict, context: int
) -> None:
    """One decode step attending to `context` keys. The explicit attention runs q.K^T and
    the weighted sum as batched matrix products, which the counter sees (it does not
    count the CPU's fused scaled_dot_product_attention)."""
    model = tiny(flavour, attention="explicit", **overrides)
    decoder = Decoder(model, 1)
    if context > 1:
        decoder.feed(torch.randint(61, (1, context - 1)))
    with FlopCounterMode(display=False) as counter:
        decoder.feed(torch.tensor([[3]]))
    weights, attention = flops_per_token(model.config, context)
    assert counter.get_total_flops() == weights + attention
    counts = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    assert counts["aten.bmm"] == attention


def test_attention_crossover_is_the_first_context_where_attention_costs_more() -> None:
    for config in (tiny().config, *published_shapes().values()):
        t = attention_crossover(config)
        weights, attention = flops_per_token(config, t)
        before_w, before_a = flops_per_token(config, t - 1)
        assert attention > weights and before_a <= before_w
    llama = published_shapes()["Llama 2 7B"]
    # about 6 d for a GPT-style block of ~12 d^2 weights (SwiGLU's 11,008 is a bit wider)
    assert 5 * llama.d_model < attention_crossover(llama) < 8 * llama.d_model


def test_attention_is_a_small_share_for_the_site_shape_at_its_context() -> None:
    site_shape = GPTConfig(vocab_size=4096, block_size=128, n_layer=4, n_head=4, d_model=128)
    assert attention_crossover(site_shape) > site_shape.block_size


# ------------------------------------------------------------------ the timers
def test_pass_seconds_keeps_the_context_fixed_across_repeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = tiny()
    seen: list[int] = []
    feed = Decoder.feed

    def spy(self: Decoder, new: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        out = feed(self, new, valid)
        seen.append(self.ids.size(1))
        return out

    monkeypatch.setattr(Decoder, "feed", spy)
    seconds = pass_seconds(model, context=5, new=2, repeats=3)
    assert isinstance(seconds, float)  # a reported figure, never compared with a bound
    assert seen == [5] + [7] * (1 + 3)  # the context, then warm-up and 3 repeats, each rewound


def test_pass_seconds_refuses_a_feed_that_would_slide() -> None:
    with pytest.raises(ValueError, match="exceeds block_size"):
        pass_seconds(tiny(), context=20, new=5)


def test_pass_seconds_prefill_and_uncached() -> None:
    model = tiny()
    assert isinstance(
        pass_seconds(model, 0, 24, repeats=1), float
    )  # a prefill of the whole context
    assert isinstance(pass_seconds(model, 10, 1, use_cache=False, repeats=1), float)


def test_matmul_seconds_times_a_product() -> None:
    assert isinstance(matmul_seconds(2, size=64, repeats=2), float)


# ------------------------------------------------------------------ the sliding window
def test_long_run_slides_where_the_rule_says() -> None:
    model = tiny()
    T = model.config.block_size
    prompt = [1, 2, 3]
    run = long_run(model, prompt, 3 * T)
    slides = [i for i, step in enumerate(run) if step.reread]
    first = T - len(prompt)  # the step whose token would make the window T + 1 long
    period = T - T // 2 + 1  # the kept half grows past T again
    assert slides == list(range(first, 3 * T, period))
    for i, step in enumerate(run):
        assert step.window <= T and isinstance(step.seconds, float)
        if step.reread:
            assert step.window == T // 2
        elif i:
            assert step.window == run[i - 1].window + 1


def test_after_a_slide_the_logits_are_those_of_a_fresh_window() -> None:
    model = tiny()
    T = model.config.block_size
    ids = torch.randint(61, (1, T))
    decoder = Decoder(model, 1)
    decoder.feed(ids)
    slid = decoder.feed(torch.tensor([[7]]))[:, -1]
    kept = torch.cat([ids, torch.tensor([[7]])], dim=1)[:, -(T // 2) :]
    assert decoder.ids.equal(kept)
    fresh = Decoder(model, 1).feed(kept)[:, -1]
    torch.testing.assert_close(slid, fresh)


@pytest.mark.parametrize("flavour,overrides", [("gpt2", {}), ("llama", {"n_kv_heads": 2})])
def test_cached_and_uncached_runs_past_the_context_agree(flavour: str, overrides: dict) -> None:
    model = tiny(flavour, **overrides)
    prompt = [4, 5, 6, 7]
    n = 2 * model.config.block_size
    assert generate(model, prompt, n).equal(generate(model, prompt, n, use_cache=False))


# ------------------------------------------------------------------ the diagram
def test_passes_diagram_draws_every_pass() -> None:
    svg = passes_diagram(prompt_tokens=5, new_tokens=3).svg()
    assert "<title" in svg and "<desc" in svg
    # rows: prefill of 5 tokens + 1 output, then 3 decode rows of 6, 7, 8 tokens + 1 output;
    # plus three legend boxes
    assert svg.count("<rect") == (5 + 1) + (6 + 1) + (7 + 1) + (8 + 1) + 3
    assert ">prefill<" in svg and ">decode 3<" in svg and ">n3<" in svg and ">p5<" in svg


def test_feed_runs_under_inference_mode_and_learned_positions_stop_at_block_size() -> None:
    """The page: no pass keeps anything for a backward pass; a model with learned
    positions has one row per slot of its context and none beyond."""
    model = tiny()
    decoder = Decoder(model, 1)
    out = decoder.feed(torch.tensor([[1, 2, 3]]))
    assert torch.is_inference(out) and not out.requires_grad
    assert decoder.feed(torch.tensor([[4]])).grad_fn is None
    assert model.pos_emb.weight.shape == (model.config.block_size, model.config.d_model)
    with pytest.raises(ValueError, match="block_size|context|position"):
        model(torch.zeros(1, model.config.block_size + 1, dtype=torch.long))
