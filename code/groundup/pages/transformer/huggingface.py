"""Our `GPT` against a Hugging Face `transformers` model holding the same weights.

`tiny_hf_model` builds a small random-init GPT-2 or Llama (no download: a config
only), `compare` measures how far apart the two models' logits, loss, gradients
and greedy generations are, and `with_mistake` converts with one deliberate bug,
to show what a wrong mapping looks like next to float rounding. Used by
docs/transformer/huggingface.md and its test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from groundup.model.config import GPTConfig
from groundup.model.gpt import GPT
from groundup.model.hf import from_huggingface, gpt2_state_dict, llama_state_dict
from groundup.pages.transformer.position_probes import interleaved_to_halves

# The tolerances of tests/model/test_hf_parity.py (absolute; gradients also relative).
TOLERANCE = {"logits": 1e-5, "loss": 1e-6, "grads": 1e-5}


# --8<-- [start:tiny_models]
# Small, but every feature that needs mapping is there: GPT-2 with its fused,
# transposed c_attn and a tied head; Llama with grouped-query attention (6 query
# heads sharing 2 key/value heads), RMSNorm, SwiGLU, RoPE and an untied head.
TINY_GPT2: dict[str, Any] = dict(vocab_size=257, n_positions=64, n_embd=64, n_layer=2, n_head=4)
TINY_LLAMA: dict[str, Any] = dict(
    vocab_size=257,
    hidden_size=96,
    intermediate_size=192,
    num_hidden_layers=2,
    num_attention_heads=6,
    num_key_value_heads=2,
    max_position_embeddings=64,
)


def tiny_hf_model(kind: str, seed: int = 0, init_std: float = 0.05) -> Any:
    """A random-init `transformers` GPT2LMHeadModel ("gpt2") or LlamaForCausalLM
    ("llama"), in eval mode, built from a config alone (nothing is downloaded).

    Every parameter is drawn here from one seeded generator, not by HF's
    initialiser (which changes between releases), so the models are the same with
    any version. Weight matrices have std `init_std`, larger than HF's default of
    0.02, so that the logits spread out more; biases and norm gains are noisy
    (0 + 0.1 N(0, 1) and 1 + 0.1 N(0, 1), not zeros and ones), so that a missing or
    swapped one cannot hide behind its default value."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    no_special: dict[str, Any] = dict(bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model: Any
    if kind == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(**TINY_GPT2, initializer_range=init_std, **no_special))
    elif kind == "llama":
        model = LlamaForCausalLM(
            LlamaConfig(**TINY_LLAMA, initializer_range=init_std, **no_special)
        )
    else:
        raise ValueError(f"kind must be 'gpt2' or 'llama', got {kind!r}")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # our draw, not HF's initialiser, which changes between releases
        for name, p in model.named_parameters():  # a tied matrix once
            noise = torch.randn(p.shape, generator=g)
            if p.dim() >= 2:
                p.copy_(init_std * noise)
            elif name.endswith("bias"):
                p.copy_(0.1 * noise)
            else:  # a norm's gain
                p.copy_(1.0 + 0.1 * noise)
    return model.eval()


# --8<-- [end:tiny_models]


def hf_gradients_as_ours(hf_model: Any, config: GPTConfig) -> dict[str, torch.Tensor]:
    """HF's parameter gradients under our names and layout. The conversion only
    renames, transposes and concatenates, so gradients map exactly like weights."""
    grads = {n: p.grad for n, p in hf_model.named_parameters() if p.grad is not None}
    convert = gpt2_state_dict if hf_model.config.model_type == "gpt2" else llama_state_dict
    return convert(grads, config)


@dataclass(frozen=True)
class Parity:
    """How far apart two models are on the same input."""

    logits: float  # largest |difference| of any logit
    logit_scale: float  # largest |logit|, for scale
    loss: float  # |difference| of the mean cross-entropy
    reference_loss: float  # the HF model's loss, for scale
    grads: float  # largest |difference| of any parameter's gradient
    new_tokens: int  # tokens generated greedily after each prompt
    same_tokens: bool  # were the greedy generations token-identical?
    tokens_agreeing: (
        int  # most generated tokens equal before the first disagreement, in one sequence
    )


# --8<-- [start:compare]
def compare(hf_model: Any, ours: GPT, idx: torch.Tensor, new_tokens: int) -> Parity:
    """Run the HF model and ours on the same token ids idx (B, T) and measure the gaps."""
    # HF shifts the labels inside the model; ours takes the next-token targets.
    targets = torch.cat([idx[:, 1:], torch.full_like(idx[:, :1], -100)], dim=1)
    hf_model.zero_grad()
    ours.zero_grad()
    theirs = hf_model(idx, labels=idx)
    logits, loss = ours(idx, targets)
    theirs.loss.backward()
    loss.backward()
    hf_grads = hf_gradients_as_ours(hf_model, ours.config)
    grad_gap = 0.0
    for name, p in ours.named_parameters():  # a tied matrix once, as tok_emb.weight
        assert p.grad is not None, name
        grad_gap = max(grad_gap, (p.grad - hf_grads[name]).abs().max().item())

    prompt = idx[:, :5]
    with torch.no_grad():
        hf_tokens = hf_model.generate(  # greedy; ids for no early stop or padding
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=0,
        )
    our_tokens = ours.generate(prompt, new_tokens)  # temperature 0: greedy
    matches = (hf_tokens == our_tokens)[:, 5:].long()  # (B, new_tokens)
    agree = matches.cumprod(dim=1).sum(dim=1).max().item()  # the longest run from the start
    return Parity(
        logits=(logits - theirs.logits).abs().max().item(),
        logit_scale=theirs.logits.abs().max().item(),
        loss=(loss - theirs.loss).abs().item(),
        reference_loss=theirs.loss.item(),
        grads=grad_gap,
        new_tokens=new_tokens,
        same_tokens=torch.equal(hf_tokens, our_tokens),
        tokens_agreeing=agree,
    )


# --8<-- [end:compare]


def logit_gap(hf_model: Any, ours: GPT, idx: torch.Tensor) -> float:
    """The largest |difference| between the two models' logits on idx (B, T)."""
    with torch.no_grad():
        return (ours(idx)[0] - hf_model(idx).logits).abs().max().item()


def hf_rope_tables(hf_model: Any, n_positions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The cos and sin tables, (n_positions, head_dim) each, that a HF Llama
    computes for positions 0 .. n_positions - 1, in the model's dtype."""
    dtype = next(hf_model.parameters()).dtype
    cos, sin = hf_model.model.rotary_emb(
        torch.zeros(1, dtype=dtype), torch.arange(n_positions)[None]
    )
    return cos[0], sin[0]


def provenance(hf_model: Any, ours: GPT, names: list[str]) -> dict[str, list[str]]:
    """Where each of our tensors `names` came from, found by value, not by name:
    the HF tensors whose rows, stacked in order, equal it (a name ending in ".T"
    when the HF tensor is stored transposed). Several whole-tensor matches (a tied
    matrix) are all listed."""
    hf = hf_model.state_dict()
    mine = ours.state_dict()
    out: dict[str, list[str]] = {}
    for name in names:
        t = mine[name]
        whole = [n for n, h in hf.items() if h.shape == t.shape and torch.equal(h, t)]
        whole += [
            n + ".T"
            for n, h in hf.items()
            if h.dim() == 2 and h.t().shape == t.shape and torch.equal(h.t(), t)
        ]
        if whole:
            out[name] = whole
            continue
        parts: list[str] = []
        row = 0
        while row < t.shape[0]:
            found = next(
                (
                    n
                    for n, h in hf.items()
                    if h.shape[1:] == t.shape[1:]
                    and row + h.shape[0] <= t.shape[0]
                    and torch.equal(t[row : row + h.shape[0]], h)
                ),
                None,
            )
            if found is None:
                break
            parts.append(found)
            row += hf[found].shape[0]
        out[name] = parts if row == t.shape[0] else []
    return out


def random_ids(config: GPTConfig, batch: int = 4, seed: int = 0) -> torch.Tensor:
    """A (batch, block_size) tensor of random token ids, from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, config.vocab_size, (batch, config.block_size), generator=g)


# --8<-- [start:mistakes]
MISTAKES = {  # name: (model type, what goes wrong)
    "no_transpose": ("gpt2", "GPT-2: c_proj copied as stored, (in, out), not transposed"),
    "swap_kv": ("llama", "Llama: k_proj and v_proj swapped in the fused qkv"),
    "interleaved_rope": ("llama", "Llama: q and k rows in Meta's interleaved RoPE layout"),
}


def with_mistake(hf_model: Any, mistake: str) -> GPT:
    """`from_huggingface(hf_model)` with one conversion bug from MISTAKES. Each
    keeps every shape right, so the model loads without complaint."""
    if MISTAKES[mistake][0] != hf_model.config.model_type:
        raise ValueError(f"mistake {mistake!r} does not apply to this model")
    ours = from_huggingface(hf_model)
    c = ours.config
    hf, sd = hf_model.state_dict(), ours.state_dict()
    hd = c.dim_per_head
    q_dim, kv_dim = c.n_head * hd, c.kv_heads * hd
    to_interleaved = torch.argsort(interleaved_to_halves(hd))  # per head: halves -> pairs
    for i in range(c.n_layer):
        qkv = f"blocks.{i}.attn.qkv.weight"
        if mistake == "no_transpose":
            sd[f"blocks.{i}.attn.proj.weight"] = hf[f"transformer.h.{i}.attn.c_proj.weight"]
        elif mistake == "swap_kv":
            q, k, v = sd[qkv].split([q_dim, kv_dim, kv_dim])
            sd[qkv] = torch.cat([q, v, k])
        else:  # Meta's checkpoint layout, loaded without the permutation HF's script applies
            q, k, v = sd[qkv].split([q_dim, kv_dim, kv_dim])
            q = q.view(c.n_head, hd, -1)[:, to_interleaved].reshape(q_dim, -1)
            k = k.view(c.kv_heads, hd, -1)[:, to_interleaved].reshape(kv_dim, -1)
            sd[qkv] = torch.cat([q, k, v])
    ours.load_state_dict(sd)
    return ours


# --8<-- [end:mistakes]
