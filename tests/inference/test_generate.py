"""`generate` against `transformers`' `generate` on the same weights (greedy and beam
search, batched and not, with and without an end-of-text stop), and its own
contract: streaming, seeds, stopping, and clear errors."""

from __future__ import annotations

from typing import Any, cast

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedModel
from transformers.utils import logging as hf_logging

from groundup.inference import SamplingSettings, generate, stream
from groundup.model import GPT, GPTConfig

hf_logging.set_verbosity_error()

PROMPTS = [[3, 9, 4, 20, 11, 6], [8, 2], [15, 16, 17, 1]]
NEW = 14
PAD = 1  # not 0: transformers' beam search pads with eos when pad_token_id is 0 (falsy)


def make_hf(kind: str) -> PreTrainedModel:
    torch.manual_seed(11 if kind == "gpt2" else 12)
    model: PreTrainedModel
    if kind == "gpt2":
        config = GPT2Config(vocab_size=97, n_positions=48, n_embd=48, n_layer=2, n_head=4)
        config.bos_token_id = config.eos_token_id = None
        model = GPT2LMHeadModel(config)
    else:
        llama = LlamaConfig(
            vocab_size=89,
            hidden_size=64,
            intermediate_size=112,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=48,
            bos_token_id=None,
            eos_token_id=None,
            pad_token_id=None,
        )
        model = LlamaForCausalLM(llama)
    with torch.no_grad():  # sharper distributions than random init: fewer near-ties
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


@pytest.fixture(params=["gpt2", "llama"], scope="module")
def pair(request: pytest.FixtureRequest) -> tuple[PreTrainedModel, GPT]:
    hf = make_hf(request.param)
    return hf, GPT.from_huggingface(hf).eval()


def hf_generate(hf: PreTrainedModel, prompts: list[list[int]], **kw: Any) -> torch.Tensor:
    width = max(len(r) for r in prompts)
    ids = torch.tensor([[PAD] * (width - len(r)) + r for r in prompts])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in prompts])
    with torch.no_grad():
        out: torch.Tensor = cast(Any, hf).generate(
            ids, attention_mask=mask, max_new_tokens=NEW, do_sample=False, pad_token_id=PAD, **kw,
        )  # fmt: skip
    return out


def an_eos_that_occurs(hf: PreTrainedModel, prompts: list[list[int]], num_beams: int) -> int:
    """A token id that, made the end-of-text id, ends the first row early: the stop
    really happens (beam search may instead prefer a beam without it, so try a few)."""
    width = max(len(r) for r in prompts)
    free = hf_generate(hf, prompts, num_beams=num_beams, eos_token_id=None)
    for candidate in free[0, width + 1 :].tolist():
        stopped = hf_generate(hf, prompts, num_beams=num_beams, eos_token_id=candidate)
        if candidate in stopped[0, width:].tolist():
            return int(candidate)
    raise AssertionError("no generated token ends the first row when made eos")


@pytest.mark.parametrize("num_beams", [1, 3])
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("stop", [False, True])
def test_token_identical_to_transformers(
    pair: tuple[PreTrainedModel, GPT], num_beams: int, batched: bool, stop: bool
) -> None:
    hf, ours = pair
    prompts = PROMPTS if batched else PROMPTS[:1]
    eos = an_eos_that_occurs(hf, prompts, num_beams) if stop else None
    expected = hf_generate(hf, prompts, num_beams=num_beams, eos_token_id=eos)
    got = generate(ours, prompts, NEW, num_beams=num_beams, eos_id=eos, pad_id=PAD)
    assert got.shape == expected.shape
    assert torch.equal(got, expected)
    if stop:  # the stop did happen
        assert eos in got[0, max(len(r) for r in prompts) :].tolist()


def test_a_tensor_prompt_with_a_mask_equals_the_list_form(
    pair: tuple[PreTrainedModel, GPT],
) -> None:
    _, ours = pair
    ids = torch.tensor([[0, 0, 8, 2], [15, 16, 17, 1]])
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    from_tensor = generate(ours, ids, 6, attention_mask=mask)
    assert torch.equal(from_tensor, generate(ours, [[8, 2], [15, 16, 17, 1]], 6))


def small_model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=50, block_size=32, n_layer=2, n_head=2, d_model=32)).eval()


def test_stream_yields_what_generate_returns() -> None:
    model = small_model()
    settings = SamplingSettings(temperature=0.8, top_p=0.9)
    steps = list(stream(model, [1, 2, 3], 10, settings, generator=torch.Generator().manual_seed(7)))
    assert len(steps) == 10 and all(s.shape == (1,) for s in steps)
    expected = generate(model, [1, 2, 3], 10, temperature=0.8, top_p=0.9, seed=7)
    assert torch.cat(steps).tolist() == expected[0, 3:].tolist()


def test_stream_is_lazy() -> None:
    model = small_model()
    first = next(iter(stream(model, [1, 2, 3], 10**6)))  # a million steps, but only one runs
    assert first.shape == (1,)


def test_a_seed_makes_sampling_reproducible() -> None:
    model = small_model()
    a = generate(model, [[1, 2], [3]], 12, temperature=1.0, seed=1)
    b = generate(model, [[1, 2], [3]], 12, temperature=1.0, seed=1)
    c = generate(model, [[1, 2], [3]], 12, temperature=1.0, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_top_k_1_is_greedy_and_greedy_is_the_default() -> None:
    model = small_model()
    greedy = generate(model, [5, 6], 10)
    assert torch.equal(generate(model, [5, 6], 10, temperature=1.5, top_k=1, seed=0), greedy)
    assert torch.equal(model.generate(torch.tensor([[5, 6]]), 10), greedy)


def test_sampling_never_picks_a_filtered_id() -> None:
    model = small_model()
    out = generate(model, [[1], [2], [3], [4]], 20, temperature=2.0, top_k=3, seed=3)
    # replay: every sampled id is among the 3 most likely after its prefix
    for row in out:
        logits = model(row[None, :-1])[0][0]  # (T, V)
        top3 = logits.topk(3).indices  # (T, 3)
        chosen = row[1:, None]
        assert (top3 == chosen).any(dim=-1)[:].all()


def test_generation_stops_once_every_row_has_its_eos() -> None:
    model = small_model()
    free = generate(model, [[1, 2], [3, 4]], 10)
    eos = int(free[0, 4])  # the third new token of row 0
    stopped = generate(model, [[1, 2], [3, 4]], 10, eos_id=eos, pad_id=49)
    row0 = stopped[0, 2:].tolist()
    first = row0.index(eos)
    assert row0[: first + 1] == free[0, 2 : 3 + first].tolist()
    assert all(t == 49 for t in row0[first + 1 :])  # padding after the stop
    if eos not in free[1, 2:].tolist():  # row 1 never stops: it runs to the end
        assert stopped.shape == free.shape


def test_greedy_beam_with_one_beam_is_greedy() -> None:
    model = small_model()
    assert torch.equal(generate(model, [7, 8], 9, num_beams=1), generate(model, [7, 8], 9))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(prompt_ids=[]), "empty prompt"),
        (dict(prompt_ids=[[1, 2], []]), "empty prompt"),
        (dict(prompt_ids=[1, 50]), "token id 50 is out of range for vocab_size=50"),
        (dict(prompt_ids=[-1]), "token id -1 is out of range"),
        (
            dict(prompt_ids=list(range(33))),
            "the prompt has 33 tokens but the model's context is 32",
        ),
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(temperature=-0.5), "temperature"),
        (dict(top_k=0), "top_k"),
        (dict(max_new_tokens=-1), "max_new_tokens must be an int >= 0"),
        (dict(eos_id=50), "eos_id=50 is out of range"),
        (dict(num_beams=2, temperature=1.0), "use temperature=0 with num_beams"),
        (dict(num_beams=0), "num_beams must be >= 1"),
        (
            dict(prompt_ids=torch.tensor([[1, 2, 3]]), attention_mask=torch.tensor([[1, 0, 1]])),
            "padding must be on the left",
        ),
        (dict(prompt_ids=torch.tensor([[1.0, 2.0]])), "prompt_ids must be integer ids"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs: dict[str, Any], message: str) -> None:
    model = small_model()
    args: dict[str, Any] = {"prompt_ids": [1, 2, 3], "max_new_tokens": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(model, **args)
