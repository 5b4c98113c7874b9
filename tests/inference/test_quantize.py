"""Weight-only int8 quantization: the round trip's error bound, `Int8Linear` against
F.linear, and `quantize_model` on small GPT-2 and Llama (GQA) models: logits, generation,
memory, and an untouched input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from groundup.inference import generate
from groundup.inference.quantize import (
    Int8Linear,
    dequantize_int8,
    quantize_int8,
    quantize_model,
    weight_bytes,
)
from groundup.model import GPT, GPTConfig

CONFIGS = {
    "gpt2": GPTConfig.gpt2(vocab_size=97, block_size=48, n_layer=2, n_head=4, d_model=48),
    "llama": GPTConfig.llama(
        vocab_size=89, block_size=48, n_layer=2, n_head=4, n_kv_heads=2, d_model=64
    ),
}
LOGIT_TOL = 2e-2  # measured max |diff| about 5e-3 over seeds 0-4 (logits' std about 0.16)


def make_model(kind: str) -> GPT:
    torch.manual_seed(0)
    return GPT(CONFIGS[kind]).eval()


def linear_shapes(config: GPTConfig) -> dict[str, tuple[int, int]]:
    """(out, in) of every linear layer, by name, from the config alone."""
    d, hd = config.d_model, config.dim_per_head
    qkv = (config.n_head + 2 * config.kv_heads) * hd
    mlp = (
        {"fc": (config.hidden_size, d), "proj": (d, config.hidden_size)}
        if config.mlp == "gelu"
        else {
            "gate": (config.hidden_size, d),
            "up": (config.hidden_size, d),
            "down": (d, config.hidden_size),
        }
    )
    shapes = {"head": (config.vocab_size, d)}
    for i in range(config.n_layer):
        shapes[f"blocks.{i}.attn.qkv"] = (qkv, d)
        shapes[f"blocks.{i}.attn.proj"] = (d, config.n_head * hd)
        shapes.update({f"blocks.{i}.mlp.{n}": s for n, s in mlp.items()})
    return shapes


def test_round_trip_error_within_half_a_step() -> None:
    torch.manual_seed(0)
    w = torch.randn(64, 100)
    w[3] = 0.0  # a zero row
    w[7, 5] = 1e4  # one huge outlier: that row's step is coarse, the others are not
    q, scale = quantize_int8(w)
    assert q.dtype == torch.int8 and q.shape == w.shape
    assert scale.dtype == torch.float32 and scale.shape == (64,)
    assert int(q.min()) >= -127 and int(q.max()) <= 127
    assert int(q.abs().amax(dim=1).max()) == 127  # each nonzero row uses the full range
    error = (dequantize_int8(q, scale) - w).abs()
    assert bool((error <= scale[:, None] / 2 + 1e-6).all())
    assert bool((q[3] == 0).all()) and float(error[3].max()) == 0.0
    assert float(error[7, 5]) <= 1e-3  # the outlier itself is (nearly) exact


def test_quantize_int8_keeps_float32_scales_for_bfloat16() -> None:
    w = torch.randn(8, 16).bfloat16()
    q, scale = quantize_int8(w)
    assert q.dtype == torch.int8 and scale.dtype == torch.float32
    assert bool(((dequantize_int8(q, scale) - w.float()).abs() <= scale[:, None] / 2).all())


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.randn(8), "2-D"),
        (torch.randn(2, 3, 4), "2-D"),
        (torch.randn(4, 0), "2-D"),
        (torch.ones(4, 4, dtype=torch.int64), "floating-point"),
        (torch.tensor([[1.0, float("nan")]]), "inf or nan"),
        ([[1.0, 2.0]], "floating-point"),
    ],
)
def test_quantize_int8_rejects_bad_input(bad: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        quantize_int8(bad)


def test_dequantize_and_int8_linear_reject_bad_input() -> None:
    q, scale = quantize_int8(torch.randn(4, 6))
    with pytest.raises(ValueError, match="int8"):
        dequantize_int8(q.float(), scale)
    with pytest.raises(ValueError, match="scale"):
        dequantize_int8(q, scale[:3])
    with pytest.raises(TypeError, match="nn.Linear"):
        Int8Linear.from_linear(nn.Embedding(4, 6))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="GPT"):
        quantize_model(nn.Linear(4, 6))  # type: ignore[arg-type]


@pytest.mark.parametrize("bias", [True, False])
def test_int8_linear_matches_dequantized_linear(bias: bool) -> None:
    torch.manual_seed(0)
    linear = nn.Linear(40, 24, bias=bias)
    layer = Int8Linear.from_linear(linear)
    assert layer.weight_int8.dtype == torch.int8 and layer.scale.dtype == torch.float32
    assert not hasattr(layer, "weight")
    assert dict(layer.named_buffers()).keys() == {"weight_int8", "scale"}
    x = torch.randn(3, 5, 40)
    w = dequantize_int8(layer.weight_int8, layer.scale)
    with torch.no_grad():
        out, exact = layer(x), linear(x)
    assert out.shape == (3, 5, 24)
    torch.testing.assert_close(out, F.linear(x, w, linear.bias))
    torch.testing.assert_close(out, exact, atol=2e-2, rtol=0.0)  # within a few steps
    if bias:  # its own copy of the bias
        assert layer.bias is not None and layer.bias.data_ptr() != linear.bias.data_ptr()


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_quantize_model_copies_and_replaces_exactly_the_linears(kind: str) -> None:
    model = make_model(kind)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quantized = quantize_model(model)
    # the input is untouched: same modules, same values, still tied if it was
    assert all(type(m) is not Int8Linear for m in model.modules())
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert (model.head.weight is model.tok_emb.weight) == model.config.tie_weights
    # the copy: every linear, and only those, is an Int8Linear of the same shape
    int8 = {n: m for n, m in quantized.named_modules() if isinstance(m, Int8Linear)}
    shapes = linear_shapes(model.config)
    assert {n: tuple(m.weight_int8.shape) for n, m in int8.items()} == shapes
    assert not any(isinstance(m, nn.Linear) for m in quantized.modules())
    assert not quantized.training and not any(m.training for m in quantized.modules())
    assert torch.equal(quantized.tok_emb.weight, model.tok_emb.weight)  # embedding stays float
    assert quantized.tok_emb.weight.data_ptr() != model.tok_emb.weight.data_ptr()


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_quantized_logits_are_close(kind: str) -> None:
    model = make_model(kind)
    quantized = quantize_model(model)
    idx = torch.randint(
        0, model.config.vocab_size, (3, 40), generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        exact, approx = model(idx)[0], quantized(idx)[0]
    diff = float((exact - approx).abs().max())
    assert 0.0 < diff <= LOGIT_TOL, diff
    bf16 = quantize_model(model).to(torch.bfloat16)  # float tensors cast, int8 stays int8
    with torch.no_grad():
        logits = bf16(idx)[0]
    assert logits.dtype == torch.bfloat16 and bf16.head.weight_int8.dtype == torch.int8
    assert float((logits.float() - exact).abs().max()) <= 5 * LOGIT_TOL


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_quantized_greedy_generation(kind: str) -> None:
    quantized = quantize_model(make_model(kind))
    prompt = torch.tensor([[3, 9, 4, 20], [8, 2, 15, 16]])
    slow = quantized.generate(prompt, 10)  # no cache, the whole window each step
    assert slow.shape == (2, 14) and torch.equal(slow[:, :4], prompt)
    fast = generate(quantized, prompt, 10)  # KV cache
    assert torch.equal(fast, slow)
    padded = generate(quantized, [[3, 9, 4, 20], [15, 16]], 6)  # left padding: a mask
    assert padded.shape == (2, 10) and torch.equal(padded[0], slow[0, :10])


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_weight_bytes_shrink_by_the_expected_amount(kind: str) -> None:
    model = make_model(kind)
    config = model.config
    quantized = quantize_model(model)
    assert weight_bytes(model) == 4 * model.num_parameters()  # float32; a tied matrix once
    saved = 0
    for name, (out, inp) in linear_shapes(config).items():
        int8 = out * inp + 4 * out  # int8 weight and a float32 scale per row
        if name == "head" and config.tie_weights:
            saved -= int8  # the float matrix stays for the embedding; the int8 copy is new
        else:
            saved += 4 * out * inp - int8
    assert weight_bytes(quantized) == weight_bytes(model) - saved
    expected = {"gpt2": (254_400, 97_012), "llama": (440_064, 133_540)}[kind]
    assert (weight_bytes(model), weight_bytes(quantized)) == expected
