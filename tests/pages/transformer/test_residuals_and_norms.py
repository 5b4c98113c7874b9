"""docs/transformer/residuals-and-norms.md: the pre-norm block, gradient flow with and
without residuals, pre- vs post-norm, LayerNorm and RMSNorm, the stream's growth with
and without normalisation, the MLP and its parameter share, and the site-model
ablations (every claim the page makes from its numbers)."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from groundup.model import GPT, MLP, Block, GPTConfig, LayerNorm, RMSNorm, SwiGLU
from groundup.pages.transformer.counting import parameter_count, published_shapes
from groundup.pages.transformer.residuals_and_norms.ablations import (
    ABLATION_TRAINING,
    ABLATIONS,
    AblationRun,
    compare,
    run_ablations,
)
from groundup.pages.transformer.residuals_and_norms.depth import (
    PostNormBlock,
    cached_gradient_flows,
    cached_stream_scales,
    deep_model,
    gradient_flow,
    post_norm_copy,
    random_batch,
    silence_sublayers,
    stream_rms,
    variance_preserving_init,
)
from groundup.site import SITE_MODEL, SITE_TRAINING

# the page's deep stack: the site model's width, 24 blocks
DEEP = GPTConfig(vocab_size=4096, block_size=128, n_layer=24, n_head=4, d_model=128)
STACKS: dict[str, dict[str, Any]] = {
    "ours": {},
    "residual, no norm": {"norm": "none"},
    "no residual, LayerNorm": {"residual": False},
    "no residual, no norm": {"residual": False, "norm": "none"},
}


def mlp_of(block: Block) -> nn.Module:
    """`block.mlp`, for a block that has one (a type checker sees Module | None)."""
    assert block.mlp is not None
    return block.mlp


@functools.cache
def page_batch() -> tuple[torch.Tensor, torch.Tensor]:
    return random_batch(DEEP, batch_size=4)


@functools.cache
def flow(name: str, dtype: torch.dtype = torch.float64):
    return gradient_flow(deep_model(DEEP.replace(**STACKS[name]), dtype=dtype), *page_batch())


@functools.cache
def scales(norm: str, post: bool = False, init: str = "unit") -> list[float]:
    model = deep_model(DEEP.replace(norm=norm), init=init)
    return stream_rms(post_norm_copy(model) if post else model, page_batch()[0])


# ------------------------------------------------------------------ the block
def test_block_is_pre_norm_residual() -> None:
    torch.manual_seed(0)
    block = Block(GPTConfig(d_model=32, n_head=4)).eval()
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        h = x + block.attn(block.norm1(x))
        expected = h + mlp_of(block)(block.norm2(h))
        torch.testing.assert_close(block(x), expected)


def test_block_switches() -> None:
    torch.manual_seed(0)
    config = GPTConfig(d_model=32, n_head=4)
    block = Block(config.replace(residual=False)).eval()
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        torch.testing.assert_close(block(x), mlp_of(block)(block.norm2(block.attn(block.norm1(x)))))
    assert isinstance(Block(config.replace(norm="none")).norm1, nn.Identity)
    assert Block(config.replace(mlp="none")).mlp is None
    assert isinstance(
        GPT(config.replace(vocab_size=50, block_size=8)).norm_f, LayerNorm
    )  # the final norm


# ------------------------------------------------------------------ gradient flow
def test_cached_gradient_flows_equal_the_direct_measurement(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path))
    small = DEEP.replace(n_layer=3, block_size=16, vocab_size=64)
    changes = {"ours": {}, "no residual": {"residual": False}}
    first = cached_gradient_flows(small, changes, batch_size=2)
    assert len(list(tmp_path.glob("gradient-flows-*.json"))) == 1
    again = cached_gradient_flows(small, changes, batch_size=2)  # read from the file
    idx, targets = random_batch(small, batch_size=2)
    for name, change in changes.items():
        direct = gradient_flow(deep_model(small.replace(**change)), idx, targets)
        assert first[name] == again[name] == direct
    assert list(first) == list(changes)  # in the order asked, as the plot's legend shows


def test_cached_stream_scales_equal_the_direct_measurement(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path))
    small = DEEP.replace(n_layer=3, block_size=16, vocab_size=64)
    stacks = {"pre": (small, "unit", False), "post": (small, "gpt2", True)}
    first = cached_stream_scales(stacks, small, batch_size=2)
    assert cached_stream_scales(stacks, small, batch_size=2) == first  # read from the file
    idx, _ = random_batch(small, batch_size=2)
    assert first["pre"] == stream_rms(deep_model(small, init="unit"), idx)
    assert first["post"] == stream_rms(post_norm_copy(deep_model(small, init="gpt2")), idx)
    assert list(first) == ["pre", "post"]


def test_gradient_flow_measures_what_it_says() -> None:
    """Param norms and alignments recomputed by hand with autograd.grad."""
    config = GPTConfig(vocab_size=61, block_size=12, n_layer=3, n_head=2, d_model=16)
    model = deep_model(config)
    idx, targets = random_batch(config, batch_size=2)
    measured = gradient_flow(model, idx, targets)
    x = model.tok_emb(idx) + model.pos_emb(torch.arange(12))
    inputs = []
    for block in model.blocks:
        inputs.append(x)
        x = block(x)
    logits = model.head(model.norm_f(x))
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    grads = torch.autograd.grad(loss, [*inputs, x, *model.parameters()])
    top = grads[len(inputs)].flatten()
    for i, g in enumerate(grads[: len(inputs)]):
        assert measured.alignment[i] == pytest.approx(
            F.cosine_similarity(g.flatten(), top, dim=0).item(), abs=1e-9
        )
    by_param = dict(zip((id(p) for p in model.parameters()), grads[len(inputs) + 1 :]))
    for i, block in enumerate(model.blocks):
        norm = math.sqrt(sum(by_param[id(p)].pow(2).sum().item() for p in block.parameters()))
        assert measured.param_norms[i] == pytest.approx(norm, rel=1e-9)
    assert all(p.grad is None for p in model.parameters())  # it cleans up


def test_identity_path_delivers_the_top_gradient_exactly() -> None:
    """Silent sublayers: every J_k = 0, so g_0 = g_K exactly with residuals."""
    config = GPTConfig(vocab_size=61, block_size=12, n_layer=6, n_head=2, d_model=16)
    model = deep_model(config)
    for block in model.layers:
        silence_sublayers(block)
    result = gradient_flow(model, *random_batch(config))
    assert result.alignment == pytest.approx([1.0] * 6, abs=1e-12)


def test_residual_stacks_keep_the_gradient_size_and_direction() -> None:
    ours, plain = flow("ours"), flow("residual, no norm")
    assert max(ours.param_norms) / min(ours.param_norms) < 4
    assert ours.alignment[0] > 0.3 and min(ours.alignment) > 0.3
    assert min(plain.alignment) > 0.99
    assert max(plain.param_norms) / min(plain.param_norms) < 1.1


def test_without_residuals_or_norms_the_gradient_vanishes() -> None:
    bare = flow("no residual, no norm")
    assert bare.param_norms[0] < 1e-50 < bare.param_norms[-1]
    per_block = (bare.param_norms[-1] / bare.param_norms[0]) ** (1 / (DEEP.n_layer - 1))
    assert per_block > 100  # "each block shrinks it"
    assert flow("no residual, no norm", torch.float32).param_norms[0] == 0.0  # underflows


def test_layernorm_without_residuals_keeps_size_but_loses_direction() -> None:
    no_res = flow("no residual, LayerNorm")
    assert no_res.param_norms[0] / no_res.param_norms[-1] > 0.1  # the page's first branch
    assert max(abs(a) for a in no_res.alignment) < 0.05


# ------------------------------------------------------------------ pre- vs post-norm
def test_silent_pre_norm_block_is_the_identity_post_norm_is_a_norm() -> None:
    torch.manual_seed(0)
    pre = Block(DEEP).eval()
    silence_sublayers(pre)
    post = PostNormBlock(DEEP).eval()
    post.load_state_dict(pre.state_dict())
    x = 3.0 * torch.randn(2, 16, DEEP.d_model) + 1.0
    with torch.no_grad():
        assert torch.equal(pre(x), x)
        assert (post(x) - x).abs().max().item() > 1.0
        assert (post(x) - F.layer_norm(x, (DEEP.d_model,))).abs().max().item() < 1e-4


def test_post_norm_block_formula_and_copy() -> None:
    config = GPTConfig(vocab_size=61, block_size=12, n_layer=3, n_head=2, d_model=16)
    model = deep_model(config, init="unit")
    post = post_norm_copy(model)
    assert all(isinstance(b, PostNormBlock) for b in post.blocks)
    assert not post.training and next(post.parameters()).dtype == torch.float64
    for (name, a), (_, b) in zip(model.state_dict().items(), post.state_dict().items()):
        assert torch.equal(a, b), name
    block = post.layers[0]
    x = torch.randn(2, 12, 16, dtype=torch.float64)
    with torch.no_grad():
        h = block.norm1(x + block.attn(x))
        torch.testing.assert_close(block(x), block.norm2(h + mlp_of(block)(h)))
        idx = random_batch(config)[0]
        assert not torch.allclose(post(idx)[0], model(idx)[0])


# ------------------------------------------------------------------ the norms
@pytest.mark.parametrize("shape", [(8,), (3, 5, 16), (2, 64)])
def test_norms_match_pytorch(shape) -> None:
    torch.manual_seed(0)
    x = 4 * torch.randn(*shape) + 2
    d = shape[-1]
    ln, rms = LayerNorm(d), RMSNorm(d)
    assert ln.bias is not None
    with torch.no_grad():
        for p in (ln.weight, ln.bias, rms.weight):
            p.normal_()
        torch.testing.assert_close(ln(x), F.layer_norm(x, (d,), ln.weight, ln.bias, eps=1e-5))
        torch.testing.assert_close(rms(x), F.rms_norm(x, (d,), rms.weight, eps=1e-6))
        assert sum(p.numel() for p in ln.parameters()) == 2 * sum(
            p.numel() for p in rms.parameters()
        )


def test_page_vector_invariances() -> None:
    v = torch.tensor([[3.0, 5.0, 1.0, 7.0, 4.0, 6.0, 2.0, 8.0]])
    ln, rms = LayerNorm(8), RMSNorm(8)
    with torch.no_grad():
        for norm in (ln, rms):
            y = norm(v)
            assert y.pow(2).mean().sqrt().item() == pytest.approx(1.0, abs=1e-3)  # "rms 1"
            assert (norm(10 * v) - y).abs().max().item() < 1e-5  # scale
        assert ln(v).mean().abs().item() < 1e-6
        assert (ln(v + 5) - ln(v)).abs().max().item() < 1e-5  # shift: LN yes
        assert (rms(v + 5) - rms(v)).abs().max().item() > 0.1  # RMSNorm no
        assert rms(v).mean().item() > 0.5  # keeps the mean
        assert torch.equal(ln(v), F.layer_norm(v, (8,)))
        assert torch.equal(rms(v), F.rms_norm(v, (8,), eps=1e-6))


# ------------------------------------------------------------------ the stream's size
def test_variance_preserving_init_keeps_a_layers_variance() -> None:
    torch.manual_seed(0)
    model = variance_preserving_init(
        GPT(GPTConfig(vocab_size=61, block_size=12, n_layer=2, n_head=2, d_model=256))
    )
    mlp = model.layers[0].mlp
    assert isinstance(mlp, MLP)
    fc = mlp.fc
    x = torch.randn(4096, 256)
    with torch.no_grad():
        assert fc(x).var().item() == pytest.approx(1.0, rel=0.1)
    assert fc.weight.std().item() == pytest.approx(1 / 16, rel=0.05)
    assert model.tok_emb.weight.std().item() == pytest.approx(
        0.02, rel=0.05
    )  # embeddings untouched


def test_without_norms_the_stream_grows_geometrically() -> None:
    none = scales("none")
    assert len(none) == DEEP.n_layer + 1
    assert none[-1] / none[1] > 1e3
    assert (none[-1] / none[1]) ** (1 / (DEEP.n_layer - 1)) > 1.3
    assert all(b > a for a, b in itertools.pairwise(none[1:]))


@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
def test_with_pre_norm_the_stream_grows_like_a_square_root(norm) -> None:
    rms = scales(norm)
    assert rms[-1] < 10 and rms[-1] < scales("none")[-1] / 100
    assert 1.6 < rms[24] / rms[6] < 2.7  # 4x the blocks, ~sqrt(4) = 2x the size


def test_post_norm_pins_the_stream_at_one() -> None:
    assert scales("layernorm", post=True)[1:] == pytest.approx([1.0] * DEEP.n_layer, abs=1e-3)


def test_gpt2_init_keeps_the_stream_small_at_step_0() -> None:
    assert max(scales("none", init="gpt2")) < 0.05
    assert max(scales("layernorm", init="gpt2")) < 0.1


# ------------------------------------------------------------------ the MLP
@pytest.mark.parametrize("kind", ["gelu", "swiglu", "layernorm", "rmsnorm"])
def test_mlp_and_norms_work_on_each_position_alone(kind) -> None:
    torch.manual_seed(0)
    mlp = {
        "gelu": lambda: MLP(GPTConfig(d_model=32)),
        "swiglu": lambda: SwiGLU(GPTConfig.llama(d_model=32)),
        "layernorm": lambda: LayerNorm(32),
        "rmsnorm": lambda: RMSNorm(32),
    }[kind]()
    x = torch.randn(2, 9, 32)
    edited = x.clone()
    edited[:, 4] = torch.randn(2, 32)
    with torch.no_grad():
        a, b = mlp(x), mlp(edited)
        assert torch.equal(a[:, :4], b[:, :4]) and torch.equal(a[:, 5:], b[:, 5:])
        assert not torch.allclose(a[:, 4], b[:, 4])


def test_mlp_and_swiglu_formulas() -> None:
    torch.manual_seed(0)
    mlp = MLP(GPTConfig(d_model=16))
    swiglu = SwiGLU(GPTConfig.llama(d_model=16))
    x = torch.randn(3, 16)
    with torch.no_grad():
        z = mlp.fc(x)
        gelu = 0.5 * z * (1 + torch.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
        torch.testing.assert_close(mlp(x), mlp.proj(gelu))
        assert mlp.fc.out_features == 4 * 16
        g = swiglu.gate(x)
        torch.testing.assert_close(swiglu(x), swiglu.down(g * torch.sigmoid(g) * swiglu.up(x)))


def test_swiglu_width_spends_the_same_parameters() -> None:
    d = 768
    n_gelu = sum(p.numel() for p in MLP(GPTConfig(d_model=d, bias=False)).parameters())
    n_swiglu = sum(p.numel() for p in SwiGLU(GPTConfig.llama(d_model=d)).parameters())
    assert (
        GPTConfig(d_model=d).hidden_size == 3072 and GPTConfig.llama(d_model=d).hidden_size == 2048
    )
    assert n_gelu == n_swiglu == 4_718_592
    small = GPTConfig.llama(d_model=128).hidden_size  # 2/3 * 512 = 341.3, rounded up
    assert small == 352 and small % 32 == 0


def site_config() -> GPTConfig:
    # both mix ints and floats, which a type checker reads as dict[str, float]
    model: dict[str, Any] = SITE_MODEL
    training: dict[str, Any] = SITE_TRAINING
    return GPTConfig(vocab_size=4096, block_size=training["block_size"], **model)


def test_mlp_share_of_the_parameters() -> None:
    configs = {"the site model": site_config(), **published_shapes()}
    block_share, total_share = {}, {}
    for name, c in configs.items():
        count = parameter_count(c)
        block_share[name] = count.mlp / count.per_block
        total_share[name] = count.n_layer * count.mlp / count.total
    for name in (
        "GPT-2 small",
        "GPT-2 medium",
        "GPT-2 large",
        "GPT-2 XL",
        "Llama 2 7B",
        "Llama 2 13B",
    ):
        assert 0.66 < block_share[name] < 0.67  # "two thirds of each block"
    for name in ("Llama 2 70B", "Llama 3 8B"):
        c = configs[name]
        assert block_share[name] > 0.8
        assert c.kv_heads < c.n_head and c.hidden_size > 8 * c.d_model / 3
    assert max(total_share, key=total_share.__getitem__) == "Llama 2 70B"
    assert total_share["the site model"] < total_share["GPT-2 small"] < 0.5
    assert all(total_share[n] > 0.5 for n, c in configs.items() if parameter_count(c).total > 3e8)
    # the count matches the real model
    model = GPT(site_config())
    mlp_params = sum(p.numel() for b in model.layers for p in mlp_of(b).parameters())
    assert mlp_params / model.num_parameters() == pytest.approx(total_share["the site model"])


# ------------------------------------------------------------------ the ablations
@pytest.fixture(scope="module")
def runs() -> dict[str, AblationRun]:
    return run_ablations()


def test_ablations_are_the_site_run_with_one_change(runs) -> None:
    assert list(runs) == list(ABLATIONS)
    full = runs["full model"].site.train_config
    assert ABLATION_TRAINING["warmup_steps"] <= ABLATION_TRAINING["max_steps"]
    for name, run in runs.items():
        config = run.site.train_config
        assert config.model == {**SITE_MODEL, **ABLATIONS[name]}
        others = {k: v for k, v in config.to_dict().items() if k not in ("model", "out_dir")}
        assert others == {k: v for k, v in full.to_dict().items() if k not in ("model", "out_dir")}
        assert config.max_steps == ABLATION_TRAINING["max_steps"] == len(run.site.losses)
        assert sorted(run.site.eval_losses) == list(
            range(0, config.max_steps + 1, config.eval_interval)
        )
        for field, value in ABLATIONS[name].items():
            assert getattr(run.site.model.config, field) == value


def test_no_run_diverged(runs) -> None:
    assert not any(run.diverged for run in runs.values())


def test_full_model_beats_every_ablation(runs) -> None:
    full = runs["full model"]
    for name, run in runs.items():
        if run is not full:
            assert compare(run.heldout_loss, full.heldout_loss) == "worse", name  # by > 0.05


def test_what_the_page_says_about_the_ranking(runs) -> None:
    full, unigram = runs["full model"], runs["full model"].site.unigram_loss
    no_res, no_norm = runs["no residual connections"], runs["no normalisation"]
    # "without residual connections a stack of blocks barely learns at all"
    assert no_res.heldout_loss > unigram - 0.3
    assert no_res.heldout_loss == max(r.heldout_loss for r in runs.values())
    # "a model can learn without normalisation, at a cost"
    assert full.heldout_loss < no_norm.heldout_loss < unigram - 0.3


def test_no_mlp_has_fewer_parameters(runs) -> None:
    full, no_mlp = runs["full model"], runs["no MLP"]
    per_block = parameter_count(site_config()).mlp
    assert full.parameters - no_mlp.parameters == SITE_MODEL["n_layer"] * per_block
    assert runs["no residual connections"].parameters == full.parameters


def test_divergence_is_detected_and_compared(runs) -> None:
    site = runs["full model"].site
    broken = dataclasses.replace(site, losses=[*site.losses[:-1], math.nan])
    run = AblationRun("broken", {}, broken)
    assert run.diverged and math.isnan(run.heldout_loss)
    assert compare(run.heldout_loss, 5.0) == "diverged"
    assert compare(5.2, 5.0) == "worse" and compare(4.8, 5.0) == "better"
    assert compare(5.04, 5.0) == "about the same" == compare(4.96, 5.0)
    assert compare(math.inf, 5.0) == "diverged"
