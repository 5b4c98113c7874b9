"""docs/transformer/attention.md: the soft lookup, the check against PyTorch, the
hand-set same-token head, the cost measurement and the attention-map plot."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.model import MultiHeadAttention, scaled_dot_product_attention
from groundup.pages.plots import figure, to_svg
from groundup.pages.transformer.attention import attention_cost
from groundup.pages.transformer.attention_plots import attention_map
from groundup.pages.transformer.toy_attention import (
    Head,
    earlier_occurrences,
    hand_set_attention,
    mass_on,
    same_token_head,
    toy_inputs,
)
from groundup.site import site_tokenizer

SENTENCE = "if the key is in the dict, the key is found"  # the page's sentence


# ------------------------------------------------------------ the soft lookup
def lookup(query: list[float]) -> tuple[float, torch.Tensor]:
    keys, values = torch.eye(4), torch.tensor([[10.0], [20.0], [30.0], [40.0]])
    q = torch.tensor([query])
    out, w = scaled_dot_product_attention(
        q[None, None], keys[None, None], values[None, None], causal=False
    )
    return out[0, 0, 0, 0].item(), w[0, 0, 0]


def test_strong_match_is_a_near_exact_lookup() -> None:
    out, w = lookup([12.0, 0, 0, 0])  # scores 12 / sqrt(4) = 6 against 0
    assert w[0].item() == pytest.approx(math.exp(6) / (math.exp(6) + 3))
    assert w[0] > 0.99 and out == pytest.approx(10.0, abs=0.2)


def test_weak_match_gets_less_than_half_and_is_pulled_up() -> None:
    out, w = lookup([2.0, 0, 0, 0])
    assert w[0] < 0.5 and w.argmax() == 0
    assert out > 20.0


def test_query_between_two_keys_averages_their_values() -> None:
    out, w = lookup([8.0, 8.0, 0, 0])
    assert w[0].item() == pytest.approx(w[1].item())
    assert out == pytest.approx(15.0, abs=0.5)


def test_query_matching_nothing_averages_all_values() -> None:
    out, w = lookup([0.0, 0, 0, 0])
    torch.testing.assert_close(w, torch.full((4,), 0.25))
    assert out == pytest.approx(25.0)


# ------------------------------------------------------------ against PyTorch
@pytest.mark.parametrize("causal", [False, True])
def test_page_comparison_with_pytorch(causal: bool) -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 64, 32, generator=g) for _ in range(3))
    ours, w = scaled_dot_product_attention(q, k, v, causal=causal)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert (ours - theirs).abs().max().item() < 1e-5
    assert (w.sum(-1) - 1).abs().max().item() < 1e-5
    assert w.shape == (2, 4, 64, 64)


# ------------------------------------------------------------ toy inputs and heads
def test_toy_inputs_have_a_token_slot_and_a_position_slot() -> None:
    x = toy_inputs([2, 0, 2], width=4)
    assert x.shape == (1, 3, 8)
    assert x[0, :, :4].argmax(-1).tolist() == [2, 0, 2]
    assert x[0, :, 4:].argmax(-1).tolist() == [0, 1, 2]
    assert x.sum().item() == 6  # one 1 in each slot of each row


@pytest.mark.parametrize("ids,width", [([], 4), ([0] * 5, 4), ([4], 4), ([-1], 4)])
def test_toy_inputs_reject_what_does_not_fit(ids: list[int], width: int) -> None:
    with pytest.raises(ValueError):
        toy_inputs(ids, width)


def test_same_token_head_scores_are_the_documented_formula() -> None:
    width, margin = 6, 3.0
    ids = [0, 1, 2, 1, 3, 1]
    head = same_token_head(width, margin)
    x = toy_inputs(ids, width)[0]
    scores = (x @ head.w_q.T) @ (x @ head.w_k.T).T  # before 1/sqrt(d_k)
    s = 2 * margin * math.sqrt(2 * width)
    expected = torch.tensor(
        [
            [s * (ids[i] == ids[j]) - s * (i == j) + s / 2 * (j == 0) for j in range(6)]
            for i in range(6)
        ]
    )
    torch.testing.assert_close(scores, expected)
    values = x @ head.w_v.T
    torch.testing.assert_close(values[:, width:], x[:, width:])  # the position slot
    assert values[:, :width].abs().sum() == 0  # and nothing else


def page_example() -> tuple[list[int], list[int], MultiHeadAttention]:
    tok = site_tokenizer()
    ids = tok.encode("<|endoftext|>" + SENTENCE, allowed_special="all")
    first_use: dict[int, int] = {}
    toy_ids = [first_use.setdefault(i, len(first_use)) for i in ids]
    return ids, toy_ids, hand_set_attention([same_token_head(len(toy_ids))])


def test_same_token_head_on_the_page_sentence() -> None:
    ids, toy_ids, layer = page_example()
    tok = site_tokenizer()
    names = [tok.token_bytes(i) for i in ids]
    assert names[0] == b"<|endoftext|>" and names.count(b" the") == 3 and names.count(b" key") == 2
    width = len(toy_ids)
    x = toy_inputs(toy_ids, width)
    with torch.no_grad():
        A = layer.attention_weights(x)[0, 0]
        y = layer(x)[0]
    hit = mass_on(A, earlier_occurrences(toy_ids))
    assert hit.min().item() > 0.999
    assert (A.triu(1) == 0).all()  # nothing to the right
    third = [i for i, n in enumerate(names) if n == b" the"][2]
    firsts = [i for i, n in enumerate(names) if n == b" the"][:2]
    assert A[third, firsts[0]].item() == pytest.approx(0.5, abs=1e-3)  # split evenly
    assert A[third, firsts[1]].item() == pytest.approx(0.5, abs=1e-3)
    # values are positions and W_O is the identity: the output's position slot is the row
    torch.testing.assert_close(y[:, width:], A, atol=1e-6, rtol=0)
    assert y[:, :width].abs().max().item() == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=0, max_size=22))
def test_same_token_head_does_its_job_on_any_sequence(rest: list[int]) -> None:
    ids = [0] + rest  # a start token that does not recur
    width = 24
    layer = hand_set_attention([same_token_head(width)])
    with torch.no_grad():
        A = layer.attention_weights(toy_inputs(ids, width))[0, 0]
    expected = earlier_occurrences(ids)
    assert mass_on(A, expected).min().item() > 0.998
    for i, js in enumerate(expected):  # several earlier copies share evenly
        if len(js) > 1:
            torch.testing.assert_close(
                A[i, js], torch.full((len(js),), 1 / len(js)), atol=1e-3, rtol=0
            )


def test_earlier_occurrences() -> None:
    assert earlier_occurrences([7, 1, 7, 2, 7]) == [[0], [0], [0], [0], [0, 2]]
    assert earlier_occurrences([9, 1, 2, 1]) == [[0], [0], [0], [1]]


def test_hand_set_attention_is_the_models_layer_with_those_weights() -> None:
    head = same_token_head(5)
    layer = hand_set_attention([head])
    assert isinstance(layer, MultiHeadAttention) and not layer.training
    x = toy_inputs([0, 1, 0], 5)
    q, k, v = layer.heads(x)
    torch.testing.assert_close(q[0, 0], x[0] @ head.w_q.T)
    torch.testing.assert_close(k[0, 0], x[0] @ head.w_k.T)
    torch.testing.assert_close(v[0, 0], x[0] @ head.w_v.T)
    torch.testing.assert_close(layer.proj.weight, torch.eye(10))
    with pytest.raises(ValueError, match="must fill d_model"):
        hand_set_attention([Head(torch.zeros(3, 10), torch.zeros(3, 10), torch.zeros(3, 10))])


# ------------------------------------------------------------ the cost
def test_weights_tensor_is_T_squared_floats_and_time_is_measured() -> None:
    threads = torch.get_num_threads()
    small, large = attention_cost(128, repeats=2), attention_cost(2048, repeats=2)
    assert torch.get_num_threads() == threads  # restored
    assert small.weight_bytes == 128 * 128 * 4
    assert large.weight_bytes == 2048 * 2048 * 4
    assert large.weight_bytes / small.weight_bytes == (2048 / 128) ** 2
    assert small.seconds > 0 and large.seconds > 0  # measured; the page prints the ratios


# ------------------------------------------------------------ the plot
def test_attention_map_leaves_the_masked_triangle_blank() -> None:
    w = torch.softmax(
        torch.randn(4, 4).masked_fill(~torch.ones(4, 4, dtype=torch.bool).tril(), -math.inf), -1
    )
    fig, ax = figure()
    image = attention_map(ax, w, list("abcd"), colorbar=True, title="t")
    shown = image.get_array()
    assert shown.mask[0, 1] and shown.mask[0, 3] and not shown.mask[1, 0]  # NaN -> masked
    assert image.get_clim() == (0.0, 1.0)
    assert "<svg" in to_svg(fig, alt="x")
    fig, ax = figure()
    with pytest.raises(ValueError):
        attention_map(ax, w, list("abc"))
    with pytest.raises(ValueError):
        attention_map(ax, w[0], list("abcd"))
