"""Our GPT against Hugging Face transformers: same weights -> same logits, loss,
gradients and greedy generations, for GPT-2 and Llama in several shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    PreTrainedModel,
)
from transformers.utils import logging as hf_logging

from groundup.model import GPT

hf_logging.set_verbosity_error()

# keyword arguments for GPT2Config / LlamaConfig, per named shape
GPT2_CONFIGS: dict[str, dict[str, Any]] = {
    "gpt2-small-shape": dict(vocab_size=211, n_positions=64, n_embd=64, n_layer=2, n_head=4),
    "gpt2-odd": dict(vocab_size=97, n_positions=40, n_embd=48, n_layer=3, n_head=3, n_inner=80),
    "gpt2-exact-gelu": dict(
        vocab_size=128, n_positions=32, n_embd=32, n_layer=1, n_head=2, activation_function="gelu"
    ),
    "gpt2-untied": dict(
        vocab_size=150, n_positions=32, n_embd=32, n_layer=2, n_head=4, tie_word_embeddings=False
    ),
}
LLAMA_CONFIGS: dict[str, dict[str, Any]] = {
    "llama-mha": dict(
        vocab_size=131,
        hidden_size=64,
        intermediate_size=172,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
    ),
    "llama-gqa": dict(
        vocab_size=101,
        hidden_size=96,
        intermediate_size=160,
        num_hidden_layers=3,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=48,
    ),
    "llama-mqa": dict(
        vocab_size=89,
        hidden_size=64,
        intermediate_size=100,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=1,
        max_position_embeddings=40,
        rope_theta=500_000.0,
    ),
    "llama-head-dim-bias-tied": dict(
        vocab_size=77,
        hidden_size=48,
        intermediate_size=72,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=32,
        attention_bias=True,
        mlp_bias=True,
        tie_word_embeddings=True,
    ),
}


def make_hf(name: str) -> PreTrainedModel:
    torch.manual_seed(sum(map(ord, name)))
    if name in GPT2_CONFIGS:
        model: PreTrainedModel = GPT2LMHeadModel(
            GPT2Config(**GPT2_CONFIGS[name], bos_token_id=None, eos_token_id=None)
        )
    else:
        kw = dict(LLAMA_CONFIGS[name])
        theta = kw.pop("rope_theta", 10_000.0)
        config = LlamaConfig(**kw, bos_token_id=None, eos_token_id=None, pad_token_id=None)
        config.rope_parameters = {"rope_type": "default", "rope_theta": theta}
        model = LlamaForCausalLM(config)
    # Random-init biases are zero and norm weights one; perturb them so a swapped
    # or missing tensor cannot hide behind a default value.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


ALL = list(GPT2_CONFIGS) + list(LLAMA_CONFIGS)


@pytest.fixture(params=ALL, scope="module")
def pair(request):
    hf = make_hf(request.param)
    return hf, GPT.from_huggingface(hf)


def ids_for(model: GPT, batch: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    T = model.config.block_size
    return torch.randint(0, model.config.vocab_size, (batch, T), generator=g)


def test_config_is_mapped(pair):
    hf, ours = pair
    c = ours.config
    assert c.vocab_size == hf.config.vocab_size
    assert c.n_layer == hf.config.num_hidden_layers
    assert ours.num_parameters() == sum(p.numel() for p in hf.parameters())


def test_logits_match(pair):
    hf, ours = pair
    idx = ids_for(ours)
    with torch.no_grad():
        expected = hf(idx).logits
        got, _ = ours(idx)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_logits_match_with_the_explicit_attention_path(pair):
    hf, ours = pair
    explicit = GPT(ours.config.replace(attention="explicit"))
    explicit.load_state_dict(ours.state_dict())
    idx = ids_for(ours, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(explicit.eval()(idx)[0], hf(idx).logits, atol=1e-5, rtol=0)


def shifted_targets(idx: torch.Tensor) -> torch.Tensor:
    """HF shifts labels inside the model; we pass next-token targets (-100 = none)."""
    return torch.cat([idx[:, 1:], torch.full_like(idx[:, :1], -100)], dim=1)


def test_loss_matches(pair):
    hf, ours = pair
    idx = ids_for(ours, seed=2)
    with torch.no_grad():
        expected = hf(idx, labels=idx).loss
        _, got = ours(idx, shifted_targets(idx))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_gradients_match(pair):
    hf, ours = pair
    hf.zero_grad()
    ours.zero_grad()
    idx = ids_for(ours, batch=2, seed=3)
    hf(idx, labels=idx).loss.backward()
    ours(idx, shifted_targets(idx))[1].backward()
    ours_grads = {n: p.grad for n, p in ours.named_parameters()}
    hf_grads = {n: p.grad for n, p in hf.named_parameters()}
    # Map HF gradients through the same converter that maps the weights.
    from groundup.model.hf import gpt2_state_dict, llama_state_dict

    convert = gpt2_state_dict if hf.config.model_type == "gpt2" else llama_state_dict
    if hf.config.tie_word_embeddings:  # tied: HF's grad lives on the embedding only
        hf_grads.pop("lm_head.weight", None)
    mapped = convert({n: g for n, g in hf_grads.items()}, ours.config)
    if ours.config.tie_weights:
        mapped.pop("head.weight")
    assert set(mapped) == set(ours_grads)
    for name, g in mapped.items():
        torch.testing.assert_close(ours_grads[name], g, atol=1e-5, rtol=1e-4, msg=name)


def test_greedy_generation_matches(pair):
    hf, ours = pair
    prompt = ids_for(ours, batch=2, seed=4)[:, :5]
    new = ours.config.block_size - 5
    with torch.no_grad():
        expected = hf.generate(
            prompt,
            max_new_tokens=new,
            do_sample=False,
            pad_token_id=0,
            attention_mask=torch.ones_like(prompt),
        )
    got = ours.generate(prompt, max_new_tokens=new)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("name", ["gpt2-odd", "llama-gqa"])
def test_from_pretrained_files(tmp_path, name):
    hf = make_hf(name)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] in ("gpt2", "llama")
    ours = GPT.from_pretrained_files(tmp_path)
    idx = ids_for(ours, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(ours(idx)[0], hf(idx).logits, atol=1e-5, rtol=0)


def test_from_pretrained_files_sharded(tmp_path):
    hf = make_hf("llama-gqa")
    hf.save_pretrained(tmp_path, max_shard_size="50KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    ours = GPT.from_pretrained_files(tmp_path)
    idx = ids_for(ours, seed=6)
    with torch.no_grad():
        torch.testing.assert_close(ours(idx)[0], hf(idx).logits, atol=1e-5, rtol=0)


def test_from_pretrained_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        GPT.from_pretrained_files(tmp_path)
    hf = make_hf("gpt2-odd")
    hf.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_embd": 60}))
    with pytest.raises(ValueError, match="shape"):
        GPT.from_pretrained_files(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(ValueError, match="unsupported model_type"):
        GPT.from_pretrained_files(tmp_path)


def test_explicit_positions_match_position_ids(pair):
    """Per-row offsets and a packed row (positions restarting) as `position_ids`.
    HF is given an all-ones attention_mask: without one (and without a cache) it
    infers document boundaries from restarting positions and masks between them,
    which positions alone do not do here."""
    hf, ours = pair
    T = min(12, ours.config.block_size // 3)
    idx = ids_for(ours, batch=3, seed=7)[:, :T]
    offsets = torch.stack([torch.arange(T) + k for k in (0, T, 2 * T)])
    packed = torch.cat([torch.arange(T // 2), torch.arange(T - T // 2)]).expand(3, T)
    for positions in (offsets, packed, offsets[1]):
        with torch.no_grad():
            expected = hf(
                idx,
                position_ids=positions.expand(3, T),
                attention_mask=torch.ones_like(idx),
            ).logits
            got, _ = ours(idx, positions=positions)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_explicit_positions_loss_matches(pair):
    hf, ours = pair
    idx = ids_for(ours, batch=2, seed=8)[:, :10]
    positions = torch.arange(10) + ours.config.block_size - 10  # the last rows of the tables
    with torch.no_grad():
        expected = hf(idx, labels=idx, position_ids=positions[None]).loss
        _, got = ours(idx, shifted_targets(idx), positions=positions)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_the_converters_read_every_tensor_of_the_checkpoint(pair):
    """The names `_check_nothing_dropped` accepts are exactly those of a real model."""
    from groundup.model.hf import _converted_names

    hf, ours = pair
    prefix = "transformer." if hf.config.model_type == "gpt2" else "model."
    names = {n.removeprefix(prefix) for n in hf.state_dict()}
    assert names == _converted_names(hf.config.model_type, ours.config)


def test_tensors_the_conversion_would_drop_are_refused(tmp_path):
    torch.manual_seed(0)
    cross = GPT2LMHeadModel(
        GPT2Config(**GPT2_CONFIGS["gpt2-odd"], add_cross_attention=True, bos_token_id=None)
    )
    with pytest.raises(
        ValueError, match=r"tensor\(s\) a gpt2 GPT has no place for.*crossattention"
    ):
        GPT.from_huggingface(cross)
    classifier = LlamaForSequenceClassification(
        LlamaConfig(**LLAMA_CONFIGS["llama-gqa"], pad_token_id=0, bos_token_id=None)
    )
    with pytest.raises(ValueError, match=r"score\.weight"):
        GPT.from_huggingface(classifier)
    # a config that claims fewer layers than the checkpoint holds
    make_hf("gpt2-odd").save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_layer": 2}))
    with pytest.raises(ValueError, match=r"transformer\.h\.2\."):
        GPT.from_pretrained_files(tmp_path)


def test_an_untied_head_must_be_in_the_checkpoint(tmp_path):
    """Without lm_head.weight an untied model must not fall back to the embedding."""
    from safetensors.torch import load_file, save_file

    make_hf("llama-gqa").save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    del state["lm_head.weight"]
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="missing tensor 'lm_head.weight'"):
        GPT.from_pretrained_files(tmp_path)


@pytest.mark.parametrize("name", ["gpt2-odd", "llama-mha"])
def test_recomputed_buffers_of_older_checkpoints_are_accepted(tmp_path, name):
    """Older checkpoints store GPT-2's causal mask and Llama's RoPE frequencies."""
    from safetensors.torch import load_file, save_file

    hf = make_hf(name)
    hf.save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    if name.startswith("gpt2"):
        state["transformer.h.0.attn.bias"] = torch.ones(1, 1, 40, 40)
        state["transformer.h.0.attn.masked_bias"] = torch.tensor(-1e4)
    else:
        state["model.layers.1.self_attn.rotary_emb.inv_freq"] = torch.ones(8)
    save_file(state, tmp_path / "model.safetensors")
    ours = GPT.from_pretrained_files(tmp_path)
    idx = ids_for(ours, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(ours(idx)[0], hf(idx).logits, atol=1e-5, rtol=0)
