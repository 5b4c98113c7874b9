"""groundup.pages.transformer.walkthrough and every claim docs/transformer/walkthrough.md makes:
the stages of one forward pass and their shapes, hook-captured attention, head
scores, next-token probabilities, generation, and the site model's numbers."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import groundup.model.attention as attention_module
import groundup.model.gpt
import groundup.site
import groundup.train.checkpoint
import groundup.train.loop
from groundup.model import GPT, GPTConfig, causal_mask
from groundup.pages.transformer.counting import parameter_count, published_shapes
from groundup.pages.transformer.kv_budget import model_parameters
from groundup.pages.transformer.timing import one_thread
from groundup.pages.transformer.walkthrough import (
    ForwardTrace,
    head_scores,
    top_next_tokens,
    trace_forward,
    windows,
)
from groundup.site import load_site_model, site_corpus, site_run_dir, site_token_files
from groundup.train import open_tokens

SHAPES = published_shapes()

PAGE = Path(__file__).resolve().parents[3] / "docs" / "transformer" / "walkthrough.md"
PROMPT = "This method is called when"


@pytest.fixture(scope="module")
def site():
    return load_site_model()


@pytest.fixture(scope="module")
def prompt_trace(site) -> tuple[torch.Tensor, ForwardTrace]:
    idx = torch.tensor([site.tokenizer.encode(PROMPT)])
    return idx, trace_forward(site.model, idx)


@pytest.fixture(scope="module")
def heldout_batch(site) -> torch.Tensor:
    held = torch.tensor(site.tokenizer.encode_ordinary(site_corpus()[1]))
    return windows(held, site.model.config.block_size, count=100)  # as the page does


@pytest.fixture(scope="module")
def heldout_scores(site, heldout_batch):
    with one_thread():
        trace = trace_forward(site.model, heldout_batch)
    return [head_scores(w) for w in trace.attention]


def small_model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    fields = {"vocab_size": 61, "block_size": 16, "n_layer": 3, "n_head": 4, "d_model": 32}
    return GPT(GPTConfig(**{**fields, **overrides})).eval()


def test_page_uses_the_tested_strings() -> None:
    text = PAGE.read_text()
    assert f'prompt = "{PROMPT}"' in text
    assert "sentence = held_out_sentence(train_text, heldout_text)" in text


def test_no_page_links_in_executed_output() -> None:
    """MkDocs resolves `page.md` links in the Markdown source only, not in what an
    executed block prints, so links must stay outside the blocks."""
    blocks = re.findall(r'```python exec="on"[^\n]*\n(.*?)\n```', PAGE.read_text(), re.DOTALL)
    assert len(blocks) > 10
    assert not [b for b in blocks if re.search(r"\]\([^)]*\.md", b)]


# ------------------------------------------------------------------ trace_forward
def check_trace(model: GPT, idx: torch.Tensor, trace: ForwardTrace) -> None:
    """Shapes of every stage, and that the stages add up to the model's own forward."""
    c = model.config
    B, T = idx.shape
    C, L, H = c.d_model, c.n_layer, c.n_head
    assert trace.tokens.shape == (B, T, C)
    assert torch.equal(trace.tokens, model.tok_emb.weight[idx])
    assert len(trace.stream) == L + 1 and all(x.shape == (B, T, C) for x in trace.stream)
    assert len(trace.attn_writes) == L == len(trace.mlp_writes) == len(trace.attention)
    assert all(w.shape == (B, H, T, T) for w in trace.attention)
    assert trace.final.shape == (B, T, C)
    assert trace.logits.shape == (B, T, c.vocab_size)
    with torch.no_grad():
        logits, _ = model(idx)
        assert torch.equal(trace.logits, logits)  # the real forward
        assert torch.equal(trace.final, model.norm_f(trace.stream[-1]))
        assert torch.equal(trace.logits, model.head(trace.final))
    for layer in range(L):  # each block adds exactly its two writes to the stream
        expected = trace.stream[layer] + trace.attn_writes[layer]
        mlp_write = trace.mlp_writes[layer]
        if mlp_write is not None:
            expected = expected + mlp_write
        assert torch.equal(trace.stream[layer + 1], expected)
    for w in trace.attention:  # probabilities, causal
        torch.testing.assert_close(w.sum(-1), torch.ones(B, H, T))
        assert (w[..., ~causal_mask(T, T)] == 0).all()


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"positions": "rope", "norm": "rmsnorm", "mlp": "swiglu", "bias": False, "n_kv_heads": 2},
        {"positions": "alibi", "attention": "explicit"},
        {"positions": "sinusoidal", "tie_weights": False},
        {"positions": "none", "mlp": "none"},
    ],
)
def test_trace_shapes_and_sums_on_every_flavour(overrides) -> None:
    model = small_model(**overrides)
    idx = torch.randint(0, 61, (2, 11), generator=torch.Generator().manual_seed(1))
    trace = trace_forward(model, idx)
    check_trace(model, idx, trace)
    if model.config.positions == "learned":
        assert trace.positions is not None and trace.positions.shape == (11, 32)
        assert torch.equal(trace.stream[0], trace.tokens + trace.positions)
    else:
        assert trace.positions is None
    if model.config.mlp == "none":
        assert trace.mlp_writes == [None] * 3
    if model.config.tie_weights:
        assert torch.equal(trace.logits, trace.final @ model.tok_emb.weight.T)


def test_trace_leaves_no_hooks_and_no_gradients() -> None:
    model = small_model()
    idx = torch.randint(0, 61, (1, 9))
    before, _ = model(idx)
    trace = trace_forward(model, idx)
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
    assert not trace.logits.requires_grad
    after, _ = model(idx)
    assert torch.equal(before, after)


def test_trace_removes_its_hooks_when_the_forward_fails() -> None:
    model = small_model()
    with pytest.raises(ValueError, match="out of range"):
        trace_forward(model, torch.tensor([[0, 61]]))
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_site_model_prompt_stages(site, prompt_trace) -> None:
    idx, trace = prompt_trace
    assert idx.shape == (1, 5)
    check_trace(site.model, idx, trace)
    assert torch.equal(trace.stream[0], trace.tokens + trace.positions)
    # the page: the stream ends longer than it starts, and it is the sum of all writes
    lengths = [x.norm(dim=-1).mean().item() for x in trace.stream]
    assert lengths[-1] > lengths[0]
    rebuilt = trace.stream[0].clone()
    for a, m in zip(trace.attn_writes, trace.mlp_writes):
        rebuilt = rebuilt + a + m
    assert (rebuilt - trace.stream[-1]).abs().max().item() < 1e-4


# ----------------------------------------------------------- captured attention
def test_captured_attention_is_what_an_explicit_copy_computes(
    site, prompt_trace, monkeypatch
) -> None:
    """The site model runs PyTorch's fused SDPA; an identical copy that runs the
    step-by-step attention hands out its weights, which must match the hook's."""
    idx, trace = prompt_trace
    explicit = GPT(site.model.config.replace(attention="explicit")).eval()
    explicit.load_state_dict(site.model.state_dict())
    used = []
    real = attention_module.scaled_dot_product_attention

    def recording(*args, **kwargs):
        out, weights = real(*args, **kwargs)
        used.append(weights)
        return out, weights

    monkeypatch.setattr(attention_module, "scaled_dot_product_attention", recording)
    with torch.no_grad():
        logits, _ = explicit(idx)
    assert len(used) == site.model.config.n_layer
    for hooked, inside in zip(trace.attention, used):
        torch.testing.assert_close(hooked, inside, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(logits, trace.logits, atol=1e-4, rtol=1e-4)


def test_captured_attention_of_layer_one_by_hand(site, prompt_trace) -> None:
    """Layer 1's weights from the raw parameters: LayerNorm, W_qkv, softmax(QK^T/sqrt(d))."""
    idx, trace = prompt_trace
    model, c = site.model, site.model.config
    T, H, hd = idx.size(1), c.n_head, c.dim_per_head
    with torch.no_grad():
        x = model.tok_emb.weight[idx[0]] + model.pos_emb.weight[:T]  # (T, C)
        block = model.blocks[0]
        h = F.layer_norm(x, (c.d_model,), block.norm1.weight, block.norm1.bias, c.norm_eps)
        q, k, _ = (h @ block.attn.qkv.weight.T + block.attn.qkv.bias).split(c.d_model, dim=-1)
        q, k = (t.view(T, H, hd).transpose(0, 1) for t in (q, k))  # (H, T, hd)
        scores = (q @ k.transpose(-2, -1) / math.sqrt(hd)).masked_fill(
            ~causal_mask(T, T), -math.inf
        )
        torch.testing.assert_close(trace.attention[0][0], scores.softmax(-1), atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------ head scores
def hand_made_layer(T: int = 6) -> torch.Tensor:
    """(1, 4, T, T): a previous-token, a first-token, a self and an even head."""
    W = torch.zeros(1, 4, T, T)
    for i in range(T):
        W[0, 0, i, max(i - 1, 0)] = 1.0
        W[0, 1, i, 0] = 1.0
        W[0, 2, i, i] = 1.0
        W[0, 3, i, : i + 1] = 1.0 / (i + 1)
    return W


def test_head_scores_on_hand_made_heads() -> None:
    T = 6
    s = head_scores(hand_made_layer(T))
    even = sum(1 / (i + 1) for i in range(2, T)) / (T - 2)
    assert s.even == pytest.approx(even)
    assert s.previous.tolist()[:3] == [1.0, 0.0, 0.0]
    assert s.first.tolist()[:3] == [0.0, 1.0, 0.0]
    assert s.itself.tolist()[:3] == [0.0, 0.0, 1.0]
    assert s.peak.tolist()[:3] == [1.0, 1.0, 1.0]
    for field in (s.previous, s.first, s.itself, s.peak):  # the even head scores even
        assert field[3].item() == pytest.approx(even)


def test_head_scores_average_over_the_batch_and_queries() -> None:
    W = torch.softmax(torch.randn(3, 2, 7, 7).masked_fill(~causal_mask(7, 7), -math.inf), -1)
    s = head_scores(W, start=2)
    for h in range(2):
        rows = [(b, i) for b in range(3) for i in range(2, 7)]
        assert s.previous[h].item() == pytest.approx(
            sum(W[b, h, i, i - 1].item() for b, i in rows) / 15
        )
        assert s.first[h].item() == pytest.approx(sum(W[b, h, i, 0].item() for b, i in rows) / 15)
        assert s.itself[h].item() == pytest.approx(sum(W[b, h, i, i].item() for b, i in rows) / 15)
        assert s.peak[h].item() == pytest.approx(sum(W[b, h, i].max().item() for b, i in rows) / 15)
    assert head_scores(W, start=0).first.shape == (2,)


def test_head_scores_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        head_scores(torch.zeros(2, 5, 5))
    with pytest.raises(ValueError):
        head_scores(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError):
        head_scores(torch.zeros(1, 1, 2, 2))


def test_windows() -> None:
    ids = torch.arange(10)
    assert windows(ids, 3).tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert windows(ids, 3, count=2).shape == (2, 3)
    with pytest.raises(ValueError):
        windows(ids, 11)
    with pytest.raises(ValueError):
        windows(ids, 3, count=4)


def test_an_untrained_model_spreads_attention_evenly(site, heldout_batch) -> None:
    untrained = GPT(site.model.config).eval()
    with one_thread():
        trace = trace_forward(untrained, heldout_batch)
    for w in trace.attention:
        s = head_scores(w)
        assert (s.previous - s.even).abs().max().item() < 0.002


def test_site_model_head_claims(site, heldout_batch, heldout_scores) -> None:
    assert heldout_batch.shape == (100, 128) and site.heldout_tokens > 100 * 128
    prev = torch.stack([s.previous for s in heldout_scores])
    peak = torch.stack([s.peak for s in heldout_scores])
    even = heldout_scores[0].even
    # "a lean, not a rule": above the even share, far from a clean previous-token head
    assert even < prev.max().item() < 0.5
    # "every head spreads its attention over many tokens"
    assert peak.max().item() < 0.5


# ----------------------------------------------------------- next token, generation
def test_top_next_tokens_is_the_sorted_softmax_of_the_last_row() -> None:
    logits = torch.randn(4, 50)
    top = top_next_tokens(logits, k=5)
    probs = torch.softmax(logits[-1], -1)
    assert [i for i, _ in top] == probs.argsort(descending=True)[:5].tolist()
    assert [p for _, p in top] == pytest.approx(probs.sort(descending=True).values[:5].tolist())
    assert top_next_tokens(logits[-1], k=5) == top


def test_greedy_is_argmax_step_by_step_and_generate(site) -> None:
    model, tok = site.model, site.tokenizer
    idx = torch.tensor([tok.encode(PROMPT)])
    with one_thread(), torch.no_grad():
        greedy = model.generate(idx, 12, temperature=0.0)
        by_hand = idx
        for _ in range(12):
            logits, _ = model(by_hand)
            by_hand = torch.cat([by_hand, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        again = model.generate(idx, 12, temperature=0.0)
        first_logits, _ = model(idx)
    assert torch.equal(greedy, by_hand) and torch.equal(greedy, again)
    assert greedy[0, idx.size(1)].item() == top_next_tokens(first_logits[0], k=5)[0][0]


def test_sampling_is_fixed_by_the_seed_and_stays_in_the_top_k(site) -> None:
    model, tok = site.model, site.tokenizer
    idx = torch.tensor([tok.encode(PROMPT)])
    with one_thread(), torch.no_grad():

        def sample(seed: int) -> torch.Tensor:
            return model.generate(
                idx, 15, temperature=0.8, top_k=40, generator=torch.Generator().manual_seed(seed)
            )

        a, b, other = sample(0), sample(0), sample(1)
        assert torch.equal(a, b) and not torch.equal(a, other)
        for t in range(idx.size(1), a.size(1)):
            logits, _ = model(a[:, :t])
            assert a[0, t].item() in logits[0, -1].topk(40).indices.tolist()


# ----------------------------------------------------------- the site model's numbers
def test_parameter_table(site) -> None:
    model = site.model
    count = parameter_count(model.config)
    assert count.total == model.num_parameters() == 1_334_016
    assert count.head == 0 and model.head.weight is model.tok_emb.weight
    assert count.embedding > count.per_block  # "more than any one block"
    assert model_parameters(SHAPES["GPT-2 small"]) > 90 * model.num_parameters()


def test_training_claims(site) -> None:
    cfg = site.train_config
    assert site.heldout_loss < site.unigram_loss  # both printed on the page
    assert site.train_seconds > 0 and len(site.losses) == cfg.max_steps
    assert max(site.eval_losses) <= cfg.max_steps
    seen = cfg.max_steps * cfg.batch_size * cfg.grad_accum_steps * cfg.block_size
    assert seen < len(open_tokens(site_token_files()[0]))  # fewer than the training tokens
    # "no chance to memorise": no large gap between the two
    assert abs(sum(site.losses[-50:]) / 50 - site.heldout_loss) < 0.5
    assert (
        cfg.device == "cpu"
    )  # "trained on the build machine's CPU"; the time is printed, never promised


def test_site_run_is_cached_under_a_hash_of_settings_tokens_and_code(site) -> None:
    run_dir = site_run_dir()
    assert (run_dir / "summary.json").is_file()  # trained once; later calls load it
    assert run_dir == site_run_dir() != site_run_dir(max_steps=10)
    assert run_dir != site_run_dir(model={"n_layer": 3})
    assert {groundup.model.gpt, groundup.train.loop, groundup.train.checkpoint} <= set(
        groundup.site._MODEL_CODE
    )


def test_site_model_is_not_changed_by_the_page(site) -> None:
    """The page traces and generates with the shared model; none of it may write to it."""
    before = copy.deepcopy(site.model.state_dict())
    idx = torch.tensor([site.tokenizer.encode(PROMPT)])
    with one_thread():
        trace_forward(site.model, idx)
        site.model.generate(
            idx, 3, temperature=0.8, top_k=40, generator=torch.Generator().manual_seed(0)
        )
    assert not site.model.training
    after = site.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
