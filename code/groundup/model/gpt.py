"""`GPT`: token ids in, next-token logits out. A decoder-only transformer."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from groundup.model.attention import causal_mask
from groundup.model.block import Block, make_norm
from groundup.model.config import GPTConfig
from groundup.model.mlp import MLP, SwiGLU
from groundup.model.positions import LearnedPositions, alibi_bias, rope_angles, sinusoidal_positions

if TYPE_CHECKING:  # only for type hints: the cache lives with generation
    from groundup.inference.kv_cache import KVCache


# --8<-- [start:gpt]
class GPT(nn.Module):
    """Embed tokens (and positions), run n_layer blocks, normalise, project to the vocabulary."""

    # fixed tables, registered as buffers by the position schemes that use them
    pos_table: torch.Tensor
    rope_cos: torch.Tensor
    rope_sin: torch.Tensor
    alibi: torch.Tensor

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        if config.positions == "learned":
            self.pos_emb = LearnedPositions(config.block_size, config.d_model)
        if config.positions == "sinusoidal":
            pe = sinusoidal_positions(config.block_size, config.d_model)
            self.register_buffer("pos_table", pe, persistent=False)
        if config.positions == "rope":
            cos, sin = rope_angles(config.block_size, config.dim_per_head, config.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        if config.positions == "alibi":
            bias = alibi_bias(config.n_head, config.block_size)
            self.register_buffer("alibi", bias, persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm_f = make_norm(config)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_weights:
            self.head.weight = self.tok_emb.weight  # one matrix: embed ids, score ids
        self._init_weights()

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx: (B, T) token ids -> logits (B, T, vocab_size), and the mean
        cross-entropy against targets (B, T) if given (ids of -100 are ignored).

        positions: each token's position, integers in [0, block_size): (T,) for
        every row or (B, T) per row, like Hugging Face's `position_ids`; None is
        0 .. T-1 (after the cached tokens, with a cache). Only the position scheme
        reads them; attention stays causal over the whole row, so documents packed
        in one row still see the ones before (Hugging Face, given `position_ids` but
        no `attention_mask` or cache, masks between them instead).
        attention_mask: (B, T), 1 for real tokens and 0 for padding, which no other
        token attends to. With a cache it covers only idx: the cache remembers the rest.
        cache: a `groundup.inference.KVCache`; the new tokens' keys and values are
        stored in it and the queries attend to every cached token as well.
        """
        self._check_ids(idx)
        pos = self._check_positions(idx, positions, cache)  # (T,) or (B, T)
        x = self.tok_emb(idx)  # (B, T, C)
        if self.config.positions == "learned":
            x = x + self.pos_emb(pos)
        if self.config.positions == "sinusoidal":
            x = x + self.pos_table[pos]
        rope = self._rope_at(pos) if self.config.positions == "rope" else None
        mask = self._attention_mask(idx, pos, attention_mask, cache)  # None: plain causal
        x = self.dropout(x)
        for i, block in enumerate(self.blocks):
            x = block(x, rope, mask, None if cache is None else cache.layer(i))
        logits = self.head(self.norm_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        # in float32 at least, as transformers does, even when the model runs in bfloat16
        scores = logits.flatten(0, 1).to(torch.promote_types(logits.dtype, torch.float32))
        loss = F.cross_entropy(scores, targets.flatten(), ignore_index=-100)
        return logits, loss

    # --8<-- [end:gpt]

    # --8<-- [start:generate]
    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append max_new_tokens ids to idx (B, T), one at a time; returns (B, T + new).

        temperature 0 picks the most likely id (greedy); otherwise ids are sampled
        from softmax(logits / temperature), restricted to the top_k if given.
        The model sees at most the last block_size ids.
        """
        _check_sampling(max_new_tokens, temperature, top_k)
        for _ in range(max_new_tokens):
            context = idx[:, -self.config.block_size :]
            logits = self(context)[0][:, -1, :]  # (B, V): the next id's scores
            if temperature == 0.0:
                next_id = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = torch.softmax(logits, dim=-1)
                next_id = torch.multinomial(probs, 1, generator=generator)
            idx = torch.cat([idx, next_id], dim=1)
        return idx

    # --8<-- [end:generate]

    # ------------------------------------------------------------------ helpers
    def _init_weights(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights and zero biases, with the
        projections that write into the residual stream scaled by 1/sqrt(2 n_layer)
        so that the stream's variance does not grow with depth."""
        writers: set[nn.Module] = set()
        for block in self.layers:
            writers.add(block.attn.proj)
            if isinstance(block.mlp, SwiGLU):
                writers.add(block.mlp.down)
            elif isinstance(block.mlp, MLP):
                writers.add(block.mlp.proj)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                std = 0.02 / math.sqrt(2 * self.config.n_layer) if module in writers else 0.02
                nn.init.normal_(module.weight, mean=0.0, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            elif isinstance(module, LearnedPositions):
                nn.init.normal_(module.weight, mean=0.0, std=0.01)

    def _rope_at(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """RoPE's cos and sin rows for positions (T,) -> (T, hd) each, or for
        (B, T) -> (B, 1, T, hd), so that they broadcast over the heads."""
        cos, sin = self.rope_cos[pos], self.rope_sin[pos]
        if pos.dim() == 2:
            cos, sin = cos[:, None], sin[:, None]
        return cos, sin

    def _attention_mask(
        self,
        idx: torch.Tensor,
        pos: torch.Tensor,
        attention_mask: torch.Tensor | None,
        cache: KVCache | None,
    ) -> torch.Tensor | None:
        """What attention adds to its scores: (B, 1 or H, T, S), 0 or ALiBi's bias
        where query i may look at key j, -inf where not; None when that is plain
        causal attention (no padding, no ALiBi, and no cached keys unless T = 1).

        Query i (slot S - T + i) sees the keys in slots up to its own, except
        padding; a padding token sees itself, so that no row is empty.
        """
        B, T = idx.shape
        valid = None if attention_mask is None else attention_mask.to(idx.device, torch.bool)
        key_pos = pos.expand(B, T)
        padded = valid is not None and not bool(valid.all())
        S = T
        if cache is not None:
            cache.reserve(valid, key_pos)
            S, padded = cache.length, cache.has_padding
            valid, key_pos = cache.valid[:, :S], cache.positions[:, :S]
        alibi = self.config.positions == "alibi"
        if not (alibi or padded or S > T > 1):
            return None  # the fast path: causal attention, or one query seeing every key
        if valid is None:
            valid = torch.ones(B, T, dtype=torch.bool, device=idx.device)
        slot = torch.arange(S, device=idx.device)
        itself = slot == slot[S - T :, None]  # (T, S): query i's own slot
        allowed = causal_mask(T, S, idx.device) & valid[:, None, :] | itself  # (B, T, S)
        if alibi:  # -slope[h] * (pos[i] - pos[j]), from the table: (B, H, T, S)
            query_pos = pos.expand(B, T)
            bias = self.alibi[:, query_pos[:, :, None], key_pos[:, None, :]].transpose(0, 1)
        else:
            bias = torch.zeros(B, 1, T, S, device=idx.device)
        return bias.masked_fill(~allowed[:, None], float("-inf")).to(self.tok_emb.weight.dtype)

    def _check_positions(
        self, idx: torch.Tensor, positions: torch.Tensor | None, cache: KVCache | None = None
    ) -> torch.Tensor:
        """The positions forward uses: 0 .. T-1 by default (after the cached tokens),
        else the given ones, checked and returned as int64, (T,) or (B, T) (a (1, T)
        tensor becomes (T,))."""
        B, T = idx.shape
        if positions is None:
            start = 0 if cache is None else cache.length
            positions = torch.arange(start, start + T, device=idx.device)
        if not isinstance(positions, torch.Tensor):
            raise TypeError(
                f"positions must be a torch.Tensor of integers, got {type(positions).__name__}"
            )
        dtype = positions.dtype
        if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
            raise TypeError(f"positions must hold integers, got dtype {dtype}")
        if positions.device != idx.device:
            raise ValueError(
                f"positions are on {positions.device} but idx is on {idx.device}; "
                f"move them to the same device"
            )
        if positions.dim() == 2 and positions.size(0) == 1:
            positions = positions[0]  # one row of positions, shared by the batch
        if tuple(positions.shape) not in ((T,), (B, T)):
            raise ValueError(
                f"positions must have shape (T,) = ({T},) or (B, T) = ({B}, {T}) "
                f"to match idx, got {tuple(positions.shape)}"
            )
        lo, hi = int(positions.min()), int(positions.max())
        if lo < 0:
            raise ValueError(f"position {lo} is negative; positions count from 0")
        if hi >= self.config.block_size:
            raise ValueError(
                f"position {hi} is out of range: positions must be below "
                f"block_size={self.config.block_size}, the rows of the position tables"
            )
        return positions.long()

    def _check_ids(self, idx: torch.Tensor) -> None:
        if not isinstance(idx, torch.Tensor):
            raise TypeError(f"idx must be a torch.Tensor of token ids, got {type(idx).__name__}")
        if idx.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise TypeError(f"idx must hold integer token ids, got dtype {idx.dtype}")
        if idx.dim() != 2:
            raise ValueError(f"idx must be (batch, time), got shape {tuple(idx.shape)}")
        T = idx.size(1)
        if T == 0:
            raise ValueError("idx has no positions (T = 0)")
        if T > self.config.block_size:
            raise ValueError(
                f"sequence of {T} tokens is longer than the context (block_size="
                f"{self.config.block_size}); crop it to the last {self.config.block_size}"
            )
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= self.config.vocab_size:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"token id {bad} is out of range for vocab_size={self.config.vocab_size}"
            )

    @property
    def layers(self) -> list[Block]:
        """The blocks, as a typed list (a type checker sees nn.ModuleList items as Modules)."""
        return [cast(Block, block) for block in self.blocks]

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Number of distinct parameters (a tied matrix counts once)."""
        params = {id(p): p for p in self.parameters()}
        n = sum(p.numel() for p in params.values())
        if exclude_embeddings:
            n -= self.tok_emb.weight.numel()
            if self.config.positions == "learned":
                n -= self.pos_emb.weight.numel()
        return n

    @classmethod
    def from_huggingface(cls, hf_model: Any) -> GPT:
        """Convert an in-memory `transformers` GPT2LMHeadModel or LlamaForCausalLM."""
        from groundup.model.hf import from_huggingface

        return from_huggingface(hf_model)

    @classmethod
    def from_pretrained_files(cls, directory: str | Path) -> GPT:
        """Load a local Hugging Face checkpoint folder (config.json + *.safetensors)."""
        from groundup.model.hf import from_pretrained_files

        return from_pretrained_files(directory)


def _check_sampling(max_new_tokens: int, temperature: float, top_k: int | None) -> None:
    """Reject settings `generate` would otherwise act on silently or fail on obscurely."""
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if not (math.isfinite(temperature) and temperature >= 0.0):
        raise ValueError(
            f"temperature must be a finite number >= 0 (0 is greedy), got {temperature}; "
            f"a negative one would favour the least likely ids"
        )
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be None (no cut) or >= 1, got {top_k}")
