"""Loading Hugging Face GPT-2 and Llama weights into `GPT`.

Two entry points: `from_huggingface(model)` for a `transformers` model already in
memory, and `from_pretrained_files(folder)` for a checkpoint on disk
(`config.json` plus `model.safetensors`, possibly sharded), which needs only
`safetensors`, not `transformers`. Both go through the same two steps: map the
HF config to a `GPTConfig`, then rename (and, for GPT-2, transpose) tensors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from groundup.model.config import GPTConfig
from groundup.model.gpt import GPT

_GELU = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}


def config_from_hf(hf: dict[str, Any]) -> GPTConfig:
    """A `GPTConfig` equivalent to a Hugging Face config dict (GPT-2 or Llama)."""
    kind = hf.get("model_type")
    if kind == "gpt2":
        act = hf.get("activation_function", "gelu_new")
        if act not in _GELU:
            raise ValueError(f"unsupported GPT-2 activation_function {act!r}")
        if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
            raise ValueError("only GPT-2's standard attention scaling is supported")
        return GPTConfig.gpt2(
            vocab_size=hf["vocab_size"],
            block_size=hf["n_positions"],
            n_layer=hf["n_layer"],
            n_head=hf["n_head"],
            d_model=hf["n_embd"],
            d_ff=hf.get("n_inner"),
            gelu_approximate=_GELU[act],
            norm_eps=hf.get("layer_norm_epsilon", 1e-5),
            tie_weights=hf.get("tie_word_embeddings", True),
        )
    if kind == "llama":
        if hf.get("hidden_act", "silu") != "silu":
            raise ValueError(f"unsupported Llama hidden_act {hf.get('hidden_act')!r}")
        rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
        if rope.get("rope_type", rope.get("type", "default")) != "default":
            raise ValueError(f"unsupported RoPE scaling {rope!r}")
        if hf.get("attention_bias", False) != hf.get("mlp_bias", False):
            raise ValueError("attention_bias and mlp_bias must agree (one `bias` flag here)")
        return GPTConfig.llama(
            vocab_size=hf["vocab_size"],
            block_size=hf["max_position_embeddings"],
            n_layer=hf["num_hidden_layers"],
            n_head=hf["num_attention_heads"],
            n_kv_heads=hf.get("num_key_value_heads") or hf["num_attention_heads"],
            d_model=hf["hidden_size"],
            head_dim=hf.get("head_dim"),
            d_ff=hf["intermediate_size"],
            norm_eps=hf.get("rms_norm_eps", 1e-6),
            rope_theta=rope.get("rope_theta", hf.get("rope_theta", 10_000.0)),
            bias=hf.get("attention_bias", False),
            tie_weights=hf.get("tie_word_embeddings", False),
        )
    raise ValueError(f"unsupported model_type {kind!r}: expected 'gpt2' or 'llama'")


# --8<-- [start:gpt2_weights]
def gpt2_state_dict(hf: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """Rename GPT-2's tensors to ours. GPT-2 stores linear weights as (in, out)
    ("Conv1D"), so those are transposed to nn.Linear's (out, in)."""
    sd = {k.removeprefix("transformer."): v for k, v in hf.items()}
    out = {
        "tok_emb.weight": sd["wte.weight"],
        "pos_emb.weight": sd["wpe.weight"],
        "norm_f.weight": sd["ln_f.weight"],
        "norm_f.bias": sd["ln_f.bias"],
    }
    for i in range(config.n_layer):
        h, b = f"h.{i}.", f"blocks.{i}."
        for ours, theirs, transpose in [
            ("norm1", "ln_1", False),
            ("attn.qkv", "attn.c_attn", True),
            ("attn.proj", "attn.c_proj", True),
            ("norm2", "ln_2", False),
            ("mlp.fc", "mlp.c_fc", True),
            ("mlp.proj", "mlp.c_proj", True),
        ]:
            weight = sd[h + theirs + ".weight"]
            out[b + ours + ".weight"] = weight.t() if transpose else weight
            out[b + ours + ".bias"] = sd[h + theirs + ".bias"]
    # a tied head is the embedding; an untied one must be in the checkpoint
    out["head.weight"] = sd["wte.weight"] if config.tie_weights else sd["lm_head.weight"]
    return out


# --8<-- [end:gpt2_weights]


# --8<-- [start:llama_weights]
def llama_state_dict(hf: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """Rename Llama's tensors to ours; q, k and v are concatenated into one matrix."""
    sd = {k.removeprefix("model."): v for k, v in hf.items()}
    out = {"tok_emb.weight": sd["embed_tokens.weight"], "norm_f.weight": sd["norm.weight"]}
    for i in range(config.n_layer):
        h, b = f"layers.{i}.", f"blocks.{i}."
        attn = h + "self_attn."
        out[b + "attn.qkv.weight"] = torch.cat(
            [sd[attn + p + ".weight"] for p in ("q_proj", "k_proj", "v_proj")]
        )
        out[b + "attn.proj.weight"] = sd[attn + "o_proj.weight"]
        out[b + "norm1.weight"] = sd[h + "input_layernorm.weight"]
        out[b + "norm2.weight"] = sd[h + "post_attention_layernorm.weight"]
        for name in ("gate", "up", "down"):
            out[b + f"mlp.{name}.weight"] = sd[h + f"mlp.{name}_proj.weight"]
        if config.bias:
            out[b + "attn.qkv.bias"] = torch.cat(
                [sd[attn + p + ".bias"] for p in ("q_proj", "k_proj", "v_proj")]
            )
            out[b + "attn.proj.bias"] = sd[attn + "o_proj.bias"]
            for name in ("gate", "up", "down"):
                out[b + f"mlp.{name}.bias"] = sd[h + f"mlp.{name}_proj.bias"]
    # a tied head is the embedding; an untied one must be in the checkpoint
    out["head.weight"] = sd["embed_tokens.weight"] if config.tie_weights else sd["lm_head.weight"]
    return out


# --8<-- [end:llama_weights]


# buffers some checkpoints store that are recomputed here: GPT-2's causal mask, Llama's RoPE
_RECOMPUTED = re.compile(
    r"(h\.\d+\.attn\.(bias|masked_bias)|layers\.\d+\.self_attn\.rotary_emb\.inv_freq)"
)


def _converted_names(kind: str, config: GPTConfig) -> set[str]:
    """The Hugging Face tensor names (without the "transformer." / "model." prefix)
    that `gpt2_state_dict` or `llama_state_dict` reads for this config."""
    if kind == "gpt2":
        names = {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight"}
        parts = ["ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"]
        for i in range(config.n_layer):
            names |= {f"h.{i}.{p}.{w}" for p in parts for w in ("weight", "bias")}
        return names
    names = {"embed_tokens.weight", "norm.weight", "lm_head.weight"}
    linear = [f"self_attn.{p}_proj" for p in "qkvo"] + [
        f"mlp.{p}_proj" for p in ("gate", "up", "down")
    ]
    kinds = ("weight", "bias") if config.bias else ("weight",)
    for i in range(config.n_layer):
        names |= {f"layers.{i}.{p}.{w}" for p in linear for w in kinds}
        names |= {f"layers.{i}.{n}.weight" for n in ("input_layernorm", "post_attention_layernorm")}
    return names


def _check_nothing_dropped(kind: str, hf_state: dict[str, torch.Tensor], config: GPTConfig) -> None:
    """Refuse a checkpoint with tensors the conversion would silently leave out
    (cross-attention, a classification head, extra layers, biases the config lacks)."""
    prefix = "transformer." if kind == "gpt2" else "model."
    known = _converted_names(kind, config)
    unused = sorted(
        name
        for name in hf_state
        if name.removeprefix(prefix) not in known
        and not _RECOMPUTED.fullmatch(name.removeprefix(prefix))
    )
    if unused:
        raise ValueError(
            f"checkpoint has {len(unused)} tensor(s) a {kind} GPT has no place for, "
            f"e.g. {unused[:3]}: converting would drop them"
        )


def _build(hf_config: dict[str, Any], hf_state: dict[str, torch.Tensor]) -> GPT:
    config = config_from_hf(hf_config)
    _check_nothing_dropped(hf_config["model_type"], hf_state, config)
    convert = gpt2_state_dict if hf_config["model_type"] == "gpt2" else llama_state_dict
    try:
        state = convert(hf_state, config)
    except KeyError as e:
        raise ValueError(
            f"checkpoint is missing tensor {e.args[0]!r} for {hf_config['model_type']}"
        ) from None
    model = GPT(config)
    dtype = next(iter(hf_state.values())).dtype
    model.to(dtype)
    expected = model.state_dict()
    for name, tensor in state.items():
        if name not in expected:
            raise ValueError(f"unexpected tensor {name!r}")
        if tensor.shape != expected[name].shape:
            raise ValueError(
                f"{name}: checkpoint has shape {tuple(tensor.shape)}, "
                f"the config implies {tuple(expected[name].shape)}"
            )
    missing = set(expected) - set(state)
    if missing:
        raise ValueError(f"checkpoint does not provide {sorted(missing)[:5]}")
    model.load_state_dict(state)
    return model.eval()


def from_huggingface(hf_model: Any) -> GPT:
    """Convert an in-memory `transformers` GPT2LMHeadModel or LlamaForCausalLM."""
    return _build(hf_model.config.to_dict(), dict(hf_model.state_dict()))


def from_pretrained_files(directory: str | Path) -> GPT:
    """Load `config.json` and the safetensors weights (one file or sharded) of a
    local Hugging Face GPT-2 or Llama checkpoint."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: not a Hugging Face checkpoint folder")
    hf_config = json.loads(config_path.read_text(encoding="utf-8"))
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    elif (directory / "model.safetensors").is_file():
        shards = ["model.safetensors"]
    else:
        raise FileNotFoundError(f"no model.safetensors (or index) in {directory}")
    state: dict[str, torch.Tensor] = {}
    for shard in shards:
        state.update(load_file(directory / shard))
    return _build(hf_config, state)
