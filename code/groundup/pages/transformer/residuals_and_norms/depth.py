"""What depth does to a transformer at initialisation, and what residuals and norms undo.

Probes for a deep stack of our real blocks: how large, and how faithful, the
gradient is when it reaches the first block; how large the residual stream
grows layer by layer; and the post-norm block of the original transformer,
for comparison with the pre-norm `Block` our `GPT` uses.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from groundup import site
from groundup.cache import cached_json
from groundup.inference.kv_cache import LayerCache
from groundup.model.block import Block
from groundup.model.config import GPTConfig
from groundup.model.gpt import GPT
from groundup.model.mlp import MLP, SwiGLU


# --8<-- [start:post_norm]
class PostNormBlock(Block):
    """The original transformer's order: x = norm1(x + attn(x)), then norm2(x + mlp(x)).

    The same sublayers and parameter names as `Block`; only the place of the
    norms differs. The stream itself goes through a norm after every sublayer,
    so no path through a stack of these is the identity. (B, T, C) -> (B, T, C).
    """

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        mask: torch.Tensor | None = None,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.attn(x, rope, mask, cache)))
        if self.mlp is not None:
            x = self.norm2(x + self.dropout(self.mlp(x)))
        return x


# --8<-- [end:post_norm]


def post_norm_copy(model: GPT) -> GPT:
    """A GPT with the same weights as `model` whose blocks are `PostNormBlock`s."""
    post = GPT(model.config)
    post.blocks = nn.ModuleList(PostNormBlock(model.config) for _ in range(model.config.n_layer))
    post.to(next(model.parameters()).dtype).load_state_dict(model.state_dict())
    return post.train(model.training)


def silence_sublayers(block: Block) -> None:
    """Zero the layers that write into the stream (attention's and the MLP's output
    projections), so that both sublayers output exactly 0."""
    writers = [block.attn.proj]
    if isinstance(block.mlp, SwiGLU):
        writers.append(block.mlp.down)
    elif isinstance(block.mlp, MLP):
        writers.append(block.mlp.proj)
    with torch.no_grad():
        for layer in writers:
            layer.weight.zero_()
            if layer.bias is not None:
                layer.bias.zero_()


# --8<-- [start:variance_preserving]
def variance_preserving_init(model: GPT) -> GPT:
    """Re-draw every linear weight inside the blocks from N(0, 1 / fan_in), biases 0.

    A layer initialised this way keeps the size of its input: for inputs of
    unit variance, each output has variance ~1. GPT-2's init is much smaller
    (std 0.02, and 0.02 / sqrt(2 n_layer) for the layers that write into the stream).
    """
    with torch.no_grad():
        for module in model.blocks.modules():
            if isinstance(module, nn.Linear):
                module.weight.normal_(0.0, 1.0 / math.sqrt(module.in_features))
                if module.bias is not None:
                    module.bias.zero_()
    return model


# --8<-- [end:variance_preserving]


def deep_model(
    config: GPTConfig, init: str = "gpt2", dtype: torch.dtype = torch.float64, seed: int = 0
) -> GPT:
    """`GPT(config)` in eval mode (no dropout), with GPT-2's init or ("unit") the
    variance-preserving one, in `dtype` (float64 lets tiny gradients be seen, not
    rounded to 0)."""
    if init not in ("gpt2", "unit"):
        raise ValueError(f"init must be 'gpt2' or 'unit', got {init!r}")
    torch.manual_seed(seed)
    model = GPT(config)
    if init == "unit":
        variance_preserving_init(model)
    return model.to(dtype).eval()


def random_batch(
    config: GPTConfig, batch_size: int = 4, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token ids and random targets, (batch_size, block_size) each."""
    g = torch.Generator().manual_seed(seed)
    shape = (batch_size, config.block_size)
    return (
        torch.randint(0, config.vocab_size, shape, generator=g),
        torch.randint(0, config.vocab_size, shape, generator=g),
    )


def _capture_inputs(modules: list[nn.Module], store: list[torch.Tensor]) -> list:
    """Hooks that keep the input of each module."""

    def hook(module: nn.Module, args: tuple) -> None:
        store.append(args[0])

    return [m.register_forward_pre_hook(hook) for m in modules]


# --8<-- [start:gradient_flow]
@dataclass
class GradientFlow:
    """One backward pass through a stack, seen block by block (block 0 first)."""

    param_norms: list[float]  # ||dL/dθ|| over each block's parameters
    alignment: list[float]  # cosine between dL/dx at each block's input and at the top


def gradient_flow(model: GPT, idx: torch.Tensor, targets: torch.Tensor) -> GradientFlow:
    """Backpropagate the loss once and measure what reaches each block.

    The "top" is the stream after the last block, where the gradient enters the
    stack. An alignment of 1 means a block receives the top's gradient unchanged
    in direction; 0 means it receives something unrelated to it.
    """
    inputs: list[torch.Tensor] = []
    hooks = _capture_inputs([*model.layers, model.norm_f], inputs)
    try:
        model.zero_grad(set_to_none=True)
        _, loss = model(idx, targets)
    finally:
        for h in hooks:
            h.remove()
    *block_grads, top = torch.autograd.grad(loss, inputs, retain_graph=True)  # dL/dx
    loss.backward()  # dL/dθ, into every parameter's .grad
    alignment = [F.cosine_similarity(g.flatten(), top.flatten(), dim=0).item() for g in block_grads]
    param_norms = [
        math.sqrt(
            sum(
                p.grad.double().pow(2).sum().item()
                for p in block.parameters()
                if p.grad is not None
            )
        )
        for block in model.layers
    ]
    model.zero_grad(set_to_none=True)
    return GradientFlow(param_norms, alignment)


# --8<-- [end:gradient_flow]


def cached_gradient_flows(
    config: GPTConfig, changes: dict[str, dict[str, Any]], batch_size: int = 4
) -> dict[str, GradientFlow]:
    """`gradient_flow` of `deep_model(config.replace(**change))` for each named change, on
    `random_batch(config, batch_size)`: computed once (float64, a few seconds), then read
    from the cache folder at every later build."""

    def compute() -> dict[str, dict[str, list[float]]]:
        idx, targets = random_batch(config, batch_size)
        return {
            name: dataclasses.asdict(
                gradient_flow(deep_model(config.replace(**change)), idx, targets)
            )
            for name, change in changes.items()
        }

    inputs = {
        "config": dataclasses.asdict(config),
        "changes": changes,
        "batch_size": batch_size,
        "torch": torch.__version__,
    }
    kept = cached_json(
        "gradient-flows", inputs, (sys.modules[__name__], *site._MODEL_CODE), compute
    )
    return {name: GradientFlow(**flow) for name, flow in kept.items()}


# --8<-- [start:stream_rms]
@torch.no_grad()
def stream_rms(model: GPT, idx: torch.Tensor) -> list[float]:
    """Root-mean-square size of the residual stream: entry 0 is what enters block 0
    (the embeddings), entry l is what block l - 1 hands on. n_layer + 1 values."""
    inputs: list[torch.Tensor] = []
    hooks = _capture_inputs([*model.blocks, model.norm_f], inputs)
    try:
        model(idx)
    finally:
        for h in hooks:
            h.remove()
    return [x.double().pow(2).mean().sqrt().item() for x in inputs]


# --8<-- [end:stream_rms]


def cached_stream_scales(
    stacks: dict[str, tuple[GPTConfig, str, bool]], batch_config: GPTConfig, batch_size: int = 4
) -> dict[str, list[float]]:
    """`stream_rms` of each named stack (config, init, post_norm) built by `deep_model`
    (as `post_norm_copy` when post_norm), on `random_batch(batch_config, batch_size)`:
    computed once, then read from the cache folder at every later build."""

    def compute() -> dict[str, list[float]]:
        idx, _ = random_batch(batch_config, batch_size)
        scales = {}
        for name, (config, init, post_norm) in stacks.items():
            model = deep_model(config, init=init)
            scales[name] = stream_rms(post_norm_copy(model) if post_norm else model, idx)
        return scales

    inputs = {
        "stacks": {
            name: [dataclasses.asdict(config), init, post_norm]
            for name, (config, init, post_norm) in stacks.items()
        },
        "batch": [dataclasses.asdict(batch_config), batch_size],
        "torch": torch.__version__,
    }
    return dict(
        cached_json("stream-scales", inputs, (sys.modules[__name__], *site._MODEL_CODE), compute)
    )
