"""groundup.pages.transformer.huggingface, and every claim docs/transformer/huggingface.md makes:
our GPT matches tiny random GPT-2 and Llama (GQA) models of `transformers` within
the parity tolerances, deliberate conversion bugs miss them by orders of magnitude,
float64 separates rounding from bugs (and finds the RoPE tables), and checkpoints
load from disk."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers.utils import logging as hf_logging

from groundup.model import GPT, GPTConfig, rope_angles
from groundup.model.hf import config_from_hf
from groundup.pages.transformer.huggingface import (
    MISTAKES,
    TINY_GPT2,
    TINY_LLAMA,
    TOLERANCE,
    compare,
    hf_gradients_as_ours,
    hf_rope_tables,
    logit_gap,
    provenance,
    random_ids,
    tiny_hf_model,
    with_mistake,
)
from groundup.pages.transformer.position_probes import interleaved_to_halves

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "transformer" / "huggingface.md"
NEW_TOKENS = 20  # the page's
KINDS = ("gpt2", "llama")


@pytest.fixture(scope="module")
def models():
    hf = {kind: tiny_hf_model(kind) for kind in KINDS}
    return hf, {kind: GPT.from_huggingface(m) for kind, m in hf.items()}


@pytest.fixture(scope="module")
def ids(models):
    return {kind: random_ids(m.config) for kind, m in models[1].items()}


@pytest.fixture(scope="module")
def results(models, ids):
    hf, ours = models
    return {kind: compare(hf[kind], ours[kind], ids[kind], NEW_TOKENS) for kind in KINDS}


@pytest.fixture(scope="module")
def broken(models, ids):
    hf = models[0]
    out = {}
    for name, (kind, _) in MISTAKES.items():
        out[name] = compare(hf[kind], with_mistake(hf[kind], name), ids[kind], NEW_TOKENS)
    return out


# ------------------------------------------------------------ the tiny models
def test_tiny_models_are_the_flavours_the_page_names(models) -> None:
    hf, ours = models
    g, ll = ours["gpt2"].config, ours["llama"].config
    assert g.norm == "layernorm" and g.positions == "learned" and g.tie_weights
    assert ll.norm == "rmsnorm" and ll.positions == "rope" and not ll.tie_weights
    assert (ll.n_head, ll.kv_heads, ll.dim_per_head) == (6, 2, 16)  # GQA
    assert hf["gpt2"].config.model_type == "gpt2" and hf["llama"].config.model_type == "llama"
    assert hf["gpt2"].config.n_embd == TINY_GPT2["n_embd"]
    assert hf["llama"].config.num_key_value_heads == TINY_LLAMA["num_key_value_heads"]
    for kind in KINDS:
        assert not hf[kind].training and not ours[kind].training
        assert ours[kind].num_parameters() == sum(p.numel() for p in hf[kind].parameters())
        # "nothing is downloaded": the weights are random, from the seed alone
        again = tiny_hf_model(kind)
        for a, b in zip(hf[kind].parameters(), again.parameters()):
            assert torch.equal(a, b)


def test_vectors_are_perturbed_away_from_their_init(models) -> None:
    hf = models[0]
    for kind in KINDS:
        for name, p in hf[kind].named_parameters():
            if p.dim() == 1:
                init = 1.0 if "norm" in name or "ln_" in name else 0.0
                assert (p - init).abs().min() > 0, name


def test_larger_init_spreads_the_logits(ids) -> None:
    for kind in KINDS:
        scales = []
        for std in (0.02, 0.05):
            hf = tiny_hf_model(kind, init_std=std)
            with torch.no_grad():
                scales.append(hf(ids[kind]).logits.abs().max().item())
        assert scales[1] > 2 * scales[0]


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        tiny_hf_model("bert")


# ------------------------------------------------------------------ the check
@pytest.mark.parametrize("kind", KINDS)
def test_parity_within_tolerance(results, kind) -> None:
    r = results[kind]
    assert r.logits < TOLERANCE["logits"]
    assert r.loss <= TOLERANCE["loss"]
    assert r.grads < TOLERANCE["grads"]
    assert r.same_tokens and r.tokens_agreeing == r.new_tokens == NEW_TOKENS
    # not bit-exact: the gap is rounding, not zero
    assert r.logits > 0
    assert 1.0 < r.logit_scale < 10.0  # "logits of a few units"
    assert r.reference_loss == pytest.approx(np.log(257), abs=0.5)


def test_tolerances_are_those_of_the_parity_tests() -> None:
    text = (ROOT / "tests" / "model" / "test_hf_parity.py").read_text(encoding="utf-8")
    assert "atol=1e-5, rtol=0)" in text  # logits
    assert "atol=1e-6, rtol=0)" in text  # loss
    assert "atol=1e-5, rtol=1e-4" in text  # gradients
    assert TOLERANCE == {"logits": 1e-5, "loss": 1e-6, "grads": 1e-5}


def test_parity_test_covers_what_the_page_lists() -> None:
    text = (ROOT / "tests" / "model" / "test_hf_parity.py").read_text(encoding="utf-8")
    names = re.findall(r'^    "((?:gpt2|llama)-[-a-z]+)": dict\(', text, re.M)
    assert len(names) == 8
    for feature in (
        'activation_function="gelu"',
        "tie_word_embeddings=False",
        "n_inner=80",
        "num_key_value_heads=1,",
        "num_key_value_heads=2,",
        "head_dim=16",
        "attention_bias=True",
        "tie_word_embeddings=True",
        "rope_theta=500_000.0",
        'attention="explicit"',
    ):
        assert feature in text, feature


def test_gradients_map_like_weights(models, ids) -> None:
    hf, ours = models
    hf_model, model = hf["gpt2"], ours["gpt2"]
    hf_model.zero_grad()
    hf_model(ids["gpt2"], labels=ids["gpt2"]).loss.backward()
    grads = hf_gradients_as_ours(hf_model, model.config)
    wte = hf_model.transformer.wte.weight.grad
    assert grads["head.weight"] is wte  # tied: the head's gradient is the embedding's
    c_attn = hf_model.transformer.h[0].attn.c_attn.weight.grad
    assert torch.equal(grads["blocks.0.attn.qkv.weight"], c_attn.t())


def test_hf_generates_with_a_kv_cache_and_we_do_not(models) -> None:
    hf, ours = models
    assert hf["llama"].generation_config.use_cache is not False
    assert "use_cache" not in GPT.generate.__code__.co_varnames


# ------------------------------------------------------- floating point
def one_by_one(values: torch.Tensor) -> float:
    total = np.float32(0.0)
    for v in values.numpy():
        total += v
    return float(total)


def test_summation_order_changes_the_last_bits() -> None:
    x = torch.randn(10_000, generator=torch.Generator().manual_seed(0))
    exact = x.double().sum().item()
    sums = [
        x.sum().item(),
        one_by_one(x),
        one_by_one(x.flip(0)),
        one_by_one(x[x.abs().argsort()]),
    ]
    assert len(set(sums)) == 4  # "four orders, four different answers"
    for s in sums:
        assert s != exact and abs(s - exact) < 1e-3


def test_our_two_attention_kernels_differ_by_rounding(models, ids) -> None:
    for kind, model in models[1].items():
        explicit = GPT(model.config.replace(attention="explicit")).eval()
        explicit.load_state_dict(model.state_dict())
        with torch.no_grad():
            gap = (explicit(ids[kind])[0] - model(ids[kind])[0]).abs().max().item()
        assert 0 < gap < TOLERANCE["logits"]


def test_float32_spacing_near_100() -> None:
    spacing = (torch.nextafter(torch.tensor(100.0), torch.tensor(200.0)) - 100.0).item()
    assert spacing == 2.0**-17
    assert spacing > TOLERANCE["logits"] / 2  # comparable to the absolute tolerance


# ----------------------------------------------------------- the mappings
def first_block(model: GPT, biases: bool) -> list[str]:
    return [
        n
        for n in model.state_dict()
        if (not n.startswith("blocks.") or n.startswith("blocks.0."))
        and (biases or not n.endswith(".bias"))
    ]


def test_gpt2_provenance(models) -> None:
    hf, ours = models
    found = provenance(hf["gpt2"], ours["gpt2"], first_block(ours["gpt2"], biases=True))
    assert all(found.values())
    transposed = [n for n, src in found.items() if any(s.endswith(".T") for s in src)]
    assert sorted(transposed) == [
        "blocks.0.attn.proj.weight",
        "blocks.0.attn.qkv.weight",
        "blocks.0.mlp.fc.weight",
        "blocks.0.mlp.proj.weight",
    ]
    assert found["blocks.0.attn.qkv.weight"] == ["transformer.h.0.attn.c_attn.weight.T"]
    assert found["blocks.0.attn.qkv.bias"] == ["transformer.h.0.attn.c_attn.bias"]
    both = ["transformer.wte.weight", "lm_head.weight"]
    assert found["tok_emb.weight"] == found["head.weight"] == both


def test_llama_provenance(models) -> None:
    hf, ours = models
    found = provenance(hf["llama"], ours["llama"], first_block(ours["llama"], biases=True))
    a = "model.layers.0.self_attn."
    assert found["blocks.0.attn.qkv.weight"] == [
        a + "q_proj.weight",
        a + "k_proj.weight",
        a + "v_proj.weight",
    ]
    assert found["head.weight"] == ["lm_head.weight"]
    assert not any(s.endswith(".T") for src in found.values() for s in src)
    assert all(found.values())
    shapes = [tuple(hf["llama"].state_dict()[s].shape) for s in found["blocks.0.attn.qkv.weight"]]
    assert shapes == [(96, 96), (32, 96), (32, 96)]
    assert ours["llama"].blocks[0].attn.qkv.weight.shape == (160, 96)


def test_provenance_finds_nothing_for_foreign_numbers(models) -> None:
    hf, ours = models
    stranger = GPT(ours["llama"].config)
    found = provenance(hf["llama"], stranger, ["blocks.0.attn.qkv.weight", "norm_f.weight"])
    assert found["blocks.0.attn.qkv.weight"] == []
    assert found["norm_f.weight"] == []  # ones at init; HF's norm weights were perturbed


def test_rope_layout_needs_no_permutation(models) -> None:
    # Hugging Face's rotate-half tables are ours (up to float32 rounding of the angles)
    cos, sin = hf_rope_tables(models[0]["llama"], 64)
    ours_cos, ours_sin = rope_angles(64, 16)
    torch.testing.assert_close(cos, ours_cos, atol=1e-6, rtol=0)
    torch.testing.assert_close(sin, ours_sin, atol=1e-6, rtol=0)


# ------------------------------------------------------------- the mistakes
def test_mistakes_keep_shapes_and_miss_the_tolerance(models, results, broken) -> None:
    hf, ours = models
    for name, (kind, _) in MISTAKES.items():
        r = broken[name]
        bad = with_mistake(hf[kind], name)  # loads: every shape is right
        assert {k: v.shape for k, v in bad.state_dict().items()} == {
            k: v.shape for k, v in ours[kind].state_dict().items()
        }
        assert r.logits > 1e4 * TOLERANCE["logits"]
        assert r.grads > 1e2 * TOLERANCE["grads"]
        assert not r.same_tokens
        assert r.loss / r.reference_loss < 0.01  # "the loss barely moves"
        assert r.loss > 100 * results[kind].loss + TOLERANCE["loss"]
    assert max(r.tokens_agreeing for r in broken.values()) >= 3  # "agree for a while"
    quiz = (ROOT / "docs" / "transformer" / "quiz.yml").read_text(encoding="utf-8")
    assert "moves it by well under 1% while the logits are\n          off by tenths" in quiz
    assert min(r.logits for r in broken.values()) > 0.1


def test_mistakes_are_what_they_say(models) -> None:
    hf, ours = models
    g = with_mistake(hf["gpt2"], "no_transpose").state_dict()
    c_proj = hf["gpt2"].state_dict()["transformer.h.1.attn.c_proj.weight"]
    assert torch.equal(g["blocks.1.attn.proj.weight"], c_proj)
    right = ours["llama"].state_dict()["blocks.0.attn.qkv.weight"]
    q, k, v = right.split([96, 32, 32])
    swapped = with_mistake(hf["llama"], "swap_kv").state_dict()["blocks.0.attn.qkv.weight"]
    assert torch.equal(swapped, torch.cat([q, v, k]))
    meta = with_mistake(hf["llama"], "interleaved_rope").state_dict()["blocks.0.attn.qkv.weight"]
    perm = interleaved_to_halves(16)  # Meta's layout, permuted as HF's script does
    mq, mk, mv = meta.split([96, 32, 32])
    assert torch.equal(mq.view(6, 16, 96)[:, perm].reshape(96, 96), q)
    assert torch.equal(mk.view(2, 16, 96)[:, perm].reshape(32, 96), k)
    assert torch.equal(mv, v)


def test_a_mistake_is_a_relabelling_of_a_correct_model(models) -> None:
    """'a model trained with its keys and values swapped is the same model with two
    matrices named the other way round': the buggy conversion of one HF model is
    the correct conversion of another, whose k_proj and v_proj trade places."""
    hf = models[0]["llama"]
    relabelled = copy.deepcopy(hf)
    with torch.no_grad():
        for layer in relabelled.model.layers:
            a = layer.self_attn
            k, v = a.k_proj.weight.clone(), a.v_proj.weight.clone()
            a.k_proj.weight.copy_(v)
            a.v_proj.weight.copy_(k)
    bad = with_mistake(hf, "swap_kv").state_dict()
    good = GPT.from_huggingface(relabelled).state_dict()
    assert all(torch.equal(bad[n], good[n]) for n in good)


def test_mistake_for_the_wrong_model(models) -> None:
    with pytest.raises(ValueError, match="does not apply"):
        with_mistake(models[0]["llama"], "no_transpose")
    with pytest.raises(ValueError, match="does not apply"):
        with_mistake(models[0]["gpt2"], "swap_kv")


# --------------------------------------------------------------- float64
def test_float64_separates_rounding_from_the_rope_tables(models, ids, results) -> None:
    hf64 = {kind: copy.deepcopy(m).double() for kind, m in models[0].items()}
    ours64 = {kind: GPT.from_huggingface(m) for kind, m in hf64.items()}
    assert ours64["llama"].tok_emb.weight.dtype == torch.float64
    gap = {kind: logit_gap(hf64[kind], ours64[kind], ids[kind]) for kind in KINDS}
    assert gap["gpt2"] < 1e-12 and results["gpt2"].logits / gap["gpt2"] > 1e6
    assert gap["llama"] > 1e-8 and results["llama"].logits / gap["llama"] < 100
    # the tables: built in float32 by both, differently
    cos, sin = hf_rope_tables(models[0]["llama"], 64)
    llama = models[1]["llama"]
    table_gap = max((llama.rope_cos - cos).abs().max(), (llama.rope_sin - sin).abs().max())
    assert 0 < table_gap < 1e-6
    cos64, _ = hf_rope_tables(hf64["llama"], 64)
    assert cos64.dtype == torch.float64 and torch.equal(cos64, cos.double())  # float32 inside
    # the difference is the frequencies: theta ** (-2i/d) against 1 / theta ** (2i/d)
    e = torch.arange(0, 16, 2, dtype=torch.float32) / 16
    ours_freq, hf_freq = 10_000.0**-e, 1.0 / (10_000.0**e)
    assert not torch.equal(ours_freq, hf_freq)
    assert torch.equal(hf_freq, models[0]["llama"].model.rotary_emb.inv_freq)
    angles = torch.outer(torch.arange(64, dtype=torch.float32), hf_freq)
    assert torch.equal(torch.cat([angles, angles], -1).cos(), cos)
    assert torch.equal(rope_angles(64, 16)[0], llama.rope_cos)
    # with HF's tables, the float64 Llama collapses like GPT-2
    model = ours64["llama"]
    model.rope_cos.copy_(cos64)
    model.rope_sin.copy_(hf_rope_tables(hf64["llama"], 64)[1])
    assert logit_gap(hf64["llama"], model, ids["llama"]) < 1e-12


# -------------------------------------------------------------- from disk
def test_sharded_checkpoint_round_trip(models, ids, tmp_path) -> None:
    hf = models[0]["llama"]
    hf.save_pretrained(tmp_path, max_shard_size="300KB")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "config.json" in names and "model.safetensors.index.json" in names
    shards = [n for n in names if re.fullmatch(r"model-\d{5}-of-\d{5}\.safetensors", n)]
    assert len(shards) > 1
    loaded = GPT.from_pretrained_files(tmp_path)
    assert loaded.tok_emb.weight.dtype == torch.float32
    assert logit_gap(hf, loaded, ids["llama"]) < TOLERANCE["logits"]


def test_checkpoint_dtype_is_kept(models, tmp_path) -> None:
    hf = copy.deepcopy(models[0]["gpt2"]).to(torch.bfloat16)
    hf.save_pretrained(tmp_path)
    loaded = GPT.from_pretrained_files(tmp_path)
    assert loaded.tok_emb.weight.dtype == torch.bfloat16
    assert loaded.float().tok_emb.weight.dtype == torch.float32


def test_the_loader_refuses_what_it_cannot_represent(models) -> None:
    llama = models[0]["llama"].config.to_dict()
    gpt2 = models[0]["gpt2"].config.to_dict()
    scaled = {"rope_type": "llama3", "rope_theta": 500_000.0, "factor": 8.0}
    cases = [
        ({**llama, "rope_parameters": scaled}, "RoPE scaling"),
        ({**llama, "hidden_act": "gelu"}, "hidden_act"),
        ({**gpt2, "activation_function": "relu"}, "activation_function"),
        ({**gpt2, "model_type": "bert"}, "model_type"),
    ]
    for config, message in cases:
        with pytest.raises(ValueError, match=message):
            config_from_hf(config)
    assert isinstance(config_from_hf(llama), GPTConfig)


# ----------------------------------------------------------------- the page
MARKER = re.compile(r"#\s*--8<--\s*\[(start|end):([a-z][-_0-9a-z]*)\]")


def test_page_shows_the_snippets() -> None:
    page = PAGE.read_text(encoding="utf-8")
    refs = re.findall(r'--8<-- "([^":]+):([^"]+)"', page)
    assert ("code/groundup/model/hf.py", "gpt2_weights") in refs
    assert ("code/groundup/model/hf.py", "llama_weights") in refs
    for section in ("tiny_models", "compare", "mistakes"):
        assert ("code/groundup/pages/transformer/huggingface.py", section) in refs
    for path, section in refs:
        text = (ROOT / path).read_text(encoding="utf-8")
        found = [m.group(1) for m in MARKER.finditer(text) if m.group(2) == section]
        assert found == ["start", "end"], (path, section)


def test_page_matches_the_tests_and_links() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert f"NEW_TOKENS = {NEW_TOKENS}\n" in page
    assert 'save_pretrained(folder, max_shard_size="300KB")' in page
    for target in (
        "output-head-and-training.md",
        "layers-blocks-heads.md",
        "walkthrough.md",
        "attention.md",
        "multi-head-attention.md#grouped-query-and-multi-query-attention",
        "positional-encodings.md#two-layouts-of-the-same-rotation",
        "https://github.com/groundup-llm/groundup/blob/main/tests/model/test_hf_parity.py",
    ):
        assert f"]({target})" in page, target
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert (
        "transformer/output-head-and-training.md\n"
        "      - Same numbers as Hugging Face: transformer/huggingface.md\n"
    ) in nav
    index = (ROOT / "docs" / "transformer" / "index.md").read_text(encoding="utf-8")
    assert "[Same numbers as Hugging Face](huggingface.md)" in index
