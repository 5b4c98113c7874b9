"""docs/generating-text/serving.md: the left-padded batch, batched greedy output equal to
one prompt at a time, the two toy schedulers, the KV memory simulation, the drawn
pages, and the int8 claims (errors within half a scale, bytes, loss, agreement)."""

from __future__ import annotations

import inspect

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.inference import generate, positions_of, prompt_batch
from groundup.inference.quantize import Int8Linear, quantize_model, weight_bytes
from groundup.model import GPT
from groundup.pages.generating_text.serving import (
    busy_share,
    continuous_schedule,
    draw_requests,
    greedy_agreement,
    heldout_losses,
    memory_diagram,
    page_assignment,
    prompts_from,
    schedule_diagram,
    serve,
    simulate_memory,
    static_schedule,
    timed_serve,
    weight_error,
)
from model_shapes import tiny_gpt


def tiny(flavour: str = "gpt2", **overrides: object) -> GPT:
    return tiny_gpt(flavour, vocab_size=53, block_size=64, **overrides)


# ------------------------------------------------------------------ batching
def test_the_batch_is_left_padded_with_the_mask_and_positions_the_page_shows() -> None:
    model = tiny()
    ids, valid = prompt_batch(model, [[5], [6, 7, 8], [9, 10]])
    assert ids.tolist() == [[0, 0, 5], [6, 7, 8], [0, 9, 10]]
    assert valid.tolist() == [[False, False, True], [True, True, True], [False, True, True]]
    # positions count real tokens only: a padded prompt gets the positions it has alone
    assert positions_of(valid).tolist() == [[0, 0, 0], [0, 1, 2], [0, 0, 1]]


def test_prompts_are_cut_with_the_requested_lengths_and_a_seed() -> None:
    ids = list(range(1000))
    prompts = prompts_from(ids, n=20, shortest=8, longest=24, seed=0)
    assert len(prompts) == 20
    assert all(8 <= len(p) <= 24 for p in prompts)
    assert all(p == ids[p[0] : p[0] + len(p)] for p in prompts)  # contiguous cuts
    assert len({len(p) for p in prompts}) > 1  # a batch of them needs padding
    assert prompts == prompts_from(ids, n=20, shortest=8, longest=24, seed=0)
    assert prompts != prompts_from(ids, n=20, shortest=8, longest=24, seed=1)


@pytest.mark.parametrize("flavour", ["gpt2", "llama"])
def test_batched_greedy_output_equals_one_prompt_at_a_time(flavour: str) -> None:
    model = tiny(flavour)
    prompts = prompts_from(list(range(3, 50)) * 3, n=6, shortest=2, longest=9, seed=3)
    one = serve(model, prompts, 1, 12)
    assert [len(row) for row in one] == [12] * 6
    assert one == [generate(model, p, 12)[0, -12:].tolist() for p in prompts]
    for batch_size in (2, 4, 6):
        assert serve(model, prompts, batch_size, 12) == one


def test_timed_serve_returns_the_continuations_and_a_rate() -> None:
    model = tiny()
    prompts = [[1, 2, 3], [4, 5]]
    out, per_second = timed_serve(model, prompts, 2, 4, repeats=1)
    assert out == serve(model, prompts, 2, 4)
    assert per_second > 0


# ------------------------------------------------------------------ scheduling
lengths_strategy = st.lists(st.integers(1, 9), min_size=1, max_size=12)


def steps_per_request(timeline: list[list[int | None]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in timeline:
        for cell in row:
            if cell is not None:
                counts[cell] = counts.get(cell, 0) + 1
    return counts


@settings(max_examples=60, deadline=None)
@given(lengths=lengths_strategy, slots=st.integers(1, 5))
def test_every_request_gets_exactly_its_steps_and_static_never_wins(
    lengths: list[int], slots: int
) -> None:
    static, continuous = static_schedule(lengths, slots), continuous_schedule(lengths, slots)
    expected = dict(enumerate(lengths))
    assert steps_per_request(static) == expected
    assert steps_per_request(continuous) == expected
    assert all(len(row) == slots for row in static + continuous)
    assert len(continuous) <= len(static)
    assert busy_share(continuous) >= busy_share(static)
    # no request is in two slots at once
    for row in continuous:
        running = [r for r in row if r is not None]
        assert len(running) == len(set(running))


@settings(max_examples=60, deadline=None)
@given(lengths=lengths_strategy, slots=st.integers(1, 5))
def test_continuous_batching_idles_only_when_nothing_is_left_to_start(
    lengths: list[int], slots: int
) -> None:
    timeline = continuous_schedule(lengths, slots)
    for t, row in enumerate(timeline):
        if None in row:  # an idle slot: every request has started by now
            started = {r for earlier in timeline[: t + 1] for r in earlier if r is not None}
            assert started == set(range(len(lengths)))


def test_the_toy_requests_on_the_page() -> None:
    toy = [5, 2, 7, 3, 6, 2, 4]
    static, continuous = static_schedule(toy, 3), continuous_schedule(toy, 3)
    assert len(static) == 7 + 6 + 4  # the longest of each group of three
    assert len(continuous) < len(static)
    svg = schedule_diagram(toy, slots=3).svg()
    assert f"{len(static)} steps" in svg and f"{len(continuous)} steps" in svg
    assert "<title id=" in svg and "<desc id=" in svg


def test_the_requests_are_drawn_as_the_page_says() -> None:
    prompts, outputs = draw_requests(500, seed=0)
    assert len(prompts) == len(outputs) == 500
    assert all(16 <= p <= 256 for p in prompts)
    assert all(1 <= o <= 512 for o in outputs)
    mean = sum(outputs) / len(outputs)
    assert 100 < mean < 150  # exponential, mean 128, a few cut at 512
    assert sorted(outputs)[len(outputs) // 2] < mean  # most answers short, a few long
    assert draw_requests(500, seed=0) == (prompts, outputs)


# ------------------------------------------------------------------ paged memory
def test_both_policies_serve_every_request_and_pages_do_better_on_the_pages_draws() -> None:
    prompts, outputs = draw_requests(200, seed=0)
    reserved = simulate_memory(prompts, outputs, 8192, 512, None)
    paged = simulate_memory(prompts, outputs, 8192, 512, 16)
    assert reserved.preemptions == 0  # a reservation never runs out
    assert paged.mean_running > reserved.mean_running
    assert paged.stored_share > reserved.stored_share
    assert paged.steps < reserved.steps
    # every request generated its tokens: running requests summed over steps >= the work
    for run in (reserved, paged):
        assert run.mean_running * run.steps >= sum(outputs)
        assert 0 < run.stored_share <= 1


def test_without_evictions_the_work_is_exactly_the_requests_tokens() -> None:
    prompts, outputs = [10, 20, 30], [5, 8, 3]
    for page in (None, 4):
        run = simulate_memory(prompts, outputs, 1000, 16, page)
        assert run.preemptions == 0
        assert run.mean_running * run.steps == pytest.approx(sum(outputs))
        assert run.steps == max(outputs)  # all three fit at once


def test_an_eviction_is_counted_and_its_work_redone() -> None:
    # two requests, 4 pages of 2 slots: both start, then grow past the budget
    run = simulate_memory([2, 2], [4, 4], 8, 4, 2)
    assert run.preemptions >= 1
    assert run.mean_running * run.steps > 8  # evicted tokens are generated again


def test_a_budget_too_small_for_one_request_is_refused() -> None:
    with pytest.raises(ValueError, match="every request must fit"):
        simulate_memory([100], [10], 64, 16, None)
    with pytest.raises(ValueError, match="every request must fit"):
        simulate_memory([10], [20], 1000, 16, 4)  # an output longer than max_new


def test_pages_are_handed_out_as_requests_grow() -> None:
    prompts, steps, size = [5, 3, 6], 2, 4
    pages = page_assignment(prompts, steps, size)
    for r, prompt in enumerate(prompts):
        mine = [used for owner, used in pages if owner == r]
        assert sum(mine) == prompt + steps
        assert len(mine) == -(-(prompt + steps) // size)  # ceil: no page more than needed
        assert all(used == size for used in mine[:-1])  # only the last one partly empty
    svg = memory_diagram(prompts, steps=steps, max_new=8, page_size=size).svg()
    assert f"{sum(p + 8 for p in prompts)} slots" in svg
    assert f"{len(pages) * size} slots" in svg


# ------------------------------------------------------------------ int8
def test_int8_errors_are_within_half_a_scale() -> None:
    model = tiny("llama")
    quantized = quantize_model(model)
    err = weight_error(model, quantized)
    assert 0 < err.max_abs and 0 < err.mean_abs < err.mean_weight
    assert err.worst_over_bound <= 1 + 1e-5


def test_weight_error_sees_a_corrupted_matrix() -> None:
    model = tiny()
    quantized = quantize_model(model)
    layer = next(m for m in quantized.modules() if isinstance(m, Int8Linear))
    layer.weight_int8[0, 0] = 127 if layer.weight_int8[0, 0] < 0 else -127
    assert weight_error(model, quantized).worst_over_bound > 1.5


def test_the_bytes_are_float_embeddings_plus_int8_matrices_and_scales() -> None:
    model = tiny()  # gpt2: learned positions, a tied head
    assert model.config.tie_weights
    quantized = quantize_model(model)
    embeddings = weight_bytes(quantized.tok_emb) + weight_bytes(quantized.pos_emb)
    assert embeddings == 4 * (model.tok_emb.weight.numel() + model.pos_emb.weight.numel())
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    head_shape = tuple(model.tok_emb.weight.shape)
    int8_linear_bytes = sum(
        m.weight.numel() + 4 * m.weight.size(0) + (0 if m.bias is None else 4 * m.bias.numel())
        for m in linears
    )
    # the tied head is one of the linears here, and its int8 copy is separate from the
    # float embedding the lookup keeps
    assert any(tuple(m.weight.shape) == head_shape for m in linears)
    rest = (
        weight_bytes(model)
        - embeddings
        - sum(
            4 * m.weight.numel() + (0 if m.bias is None else 4 * m.bias.numel())
            for m in linears
            if m.weight is not model.tok_emb.weight
        )
    )
    assert weight_bytes(quantized) == embeddings + int8_linear_bytes + rest
    assert weight_bytes(quantized) < weight_bytes(model)


def test_the_heldout_losses_score_both_models_on_the_same_tokens() -> None:
    from groundup.site import load_site_model

    model = load_site_model().model
    quantized = quantize_model(model)
    losses = heldout_losses(model, quantized, 512)
    assert set(losses) == {"float32", "int8"}
    assert abs(losses["int8"] - losses["float32"]) < 0.01
    assert losses == heldout_losses(model, quantized, 512)


def test_greedy_agreement_counts_positions_and_first_differences() -> None:
    share, first = greedy_agreement([[1, 2, 3], [4, 5, 6]], [[1, 2, 3], [4, 0, 6]])
    assert share == pytest.approx(5 / 6)
    assert first == [3, 1]  # identical all the way: the row's length


def test_the_page_names_the_conversion_in_the_forward_pass() -> None:
    # the page says the forward pass turns the whole int8 matrix back into float first
    assert "self.weight_int8.to(x.dtype)" in inspect.getsource(Int8Linear.forward)


# ------------------------------------------------------------------ the site model
@pytest.mark.slow
def test_on_the_site_model_batching_changes_no_token() -> None:
    from groundup.site import load_site_model, site_corpus

    site = load_site_model()
    ids = site.tokenizer.encode_ordinary(site_corpus()[1][:20_000])
    prompts = prompts_from(ids, n=8, shortest=8, longest=24, seed=0)
    one = serve(site.model, prompts, 1, 16)
    assert serve(site.model, prompts, 8, 16) == one
    assert serve(site.model, prompts, 4, 16) == one
