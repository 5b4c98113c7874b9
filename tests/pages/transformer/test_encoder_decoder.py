"""groundup.model.encoder, cross_attention and objectives, and every claim
docs/transformer/encoder-decoder.md makes about masks, encoders, decoders and
cross-attention. The encoder is checked against Hugging Face's BertModel, on
random weights and on the real MiniLM checkpoint the page uses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from groundup.model import GPT, GPTConfig, MultiHeadAttention, alibi_bias, causal_mask, rope_angles
from groundup.model.cross_attention import CrossAttention
from groundup.model.encoder import (
    Encoder,
    bert_config,
    bert_state_dict,
    full_mask,
    load_minilm,
    minilm_folder,
    self_attention,
)
from groundup.pages.transformer.encoder_decoder import (
    TinyLM,
    cached_next_token_runs,
    mask_for_mlm,
    train_next_token,
)
from model_shapes import Shape

TINY: Shape = dict(vocab_size=61, block_size=16, n_layer=1, n_head=4, d_model=32)


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


# ----------------------------------------------------------------------- masks
def test_full_and_causal_masks() -> None:
    assert full_mask(4, 6).shape == (4, 6) and full_mask(4, 6).all()
    assert causal_mask(6, 6).sum() == 21 and not causal_mask(6, 6).triu(1).any()


@pytest.mark.parametrize("attention", ["explicit", "sdpa"])
@pytest.mark.parametrize("positions", ["none", "rope", "alibi"])
def test_self_attention_causal_is_exactly_the_decoder_layer(attention, positions) -> None:
    torch.manual_seed(0)
    attn = MultiHeadAttention(GPTConfig(**TINY, attention=attention)).eval()
    x = torch.randn(2, 9, 32)
    rope = rope_angles(9, 8) if positions == "rope" else None
    bias = alibi_bias(4, 9) if positions == "alibi" else None
    out, weights = self_attention(attn, x, True, rope, bias)
    # the decoder layer's mask carries the causality itself: ALiBi's bias, -inf above the diagonal
    mask = None if bias is None else bias.masked_fill(~causal_mask(9, 9), float("-inf"))
    torch.testing.assert_close(out, attn(x, rope, mask), atol=1e-6, rtol=1e-5)
    assert weights.shape == (2, 4, 9, 9) and (weights.triu(1) == 0).all()


def test_bidirectional_attention_matches_torch_without_mask() -> None:
    torch.manual_seed(0)
    attn = MultiHeadAttention(GPTConfig(**TINY))
    x = torch.randn(2, 7, 32)
    out, weights = self_attention(attn, x, causal=False)
    q, k, v = attn.heads(x)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=False).transpose(1, 2).reshape(2, 7, 32)
    torch.testing.assert_close(out, attn.proj(ref), atol=1e-6, rtol=1e-5)
    assert (weights > 0).all()  # every key gets some weight


def test_changing_a_later_token() -> None:
    """The page's first table: causal outputs before the change are bit-identical."""
    torch.manual_seed(0)
    attn = MultiHeadAttention(GPTConfig(vocab_size=4096, block_size=16, n_head=4, d_model=32))
    x = torch.randn(1, 10, 32)
    y = x.clone()
    y[0, 5] = torch.randn(32)
    with torch.no_grad():
        dc = self_attention(attn, x, True)[0] - self_attention(attn, y, True)[0]
        db = self_attention(attn, x, False)[0] - self_attention(attn, y, False)[0]
    assert (dc[0, :5] == 0).all() and dc[0, 5:].abs().max() > 0.01
    assert (db[0, :5].abs().amax(-1) > 1e-3).all()


# --------------------------------------------------------------------- encoder
def _hf_bert(seed: int = 0):
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=99,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=96,
        max_position_embeddings=20,
        layer_norm_eps=1e-12,
        # transformers 5 config dataclasses take extra kwargs at runtime (a wrapped
        # __init__); their typed signature does not list this one
        attn_implementation="eager",  # type: ignore[call-arg]
    )
    model = BertModel(config).eval()
    with torch.no_grad():  # HF initialises the LayerNorms to the identity; move them off it
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def _ours_from(hf) -> Encoder:
    config = bert_config(hf.config.to_dict())
    ours = Encoder(config).eval()
    ours.load_state_dict(bert_state_dict(hf.state_dict(), config))
    return ours


def test_encoder_matches_hugging_face_bert_on_random_weights() -> None:
    hf = _hf_bert()
    ours = _ours_from(hf)
    idx = torch.randint(0, 99, (3, 13))
    with torch.no_grad():
        ref = hf(idx, output_attentions=True)
        hidden, maps = ours(idx)
    torch.testing.assert_close(hidden, ref.last_hidden_state, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(maps, torch.stack(ref.attentions), atol=1e-6, rtol=1e-4)
    assert maps.shape == (2, 3, 4, 13, 13)


def test_encoder_uses_the_segment_embedding() -> None:
    hf = _hf_bert()
    with torch.no_grad():
        hf.embeddings.token_type_embeddings.weight[0].add_(1.0)
    ours = _ours_from(hf)
    idx = torch.randint(0, 99, (1, 6))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx)[0], hf(idx).last_hidden_state, atol=1e-5, rtol=1e-4)


def test_encoder_rejects_bad_input_and_configs() -> None:
    ours = _ours_from(_hf_bert())
    with pytest.raises(ValueError, match="time <= 20"):
        ours(torch.zeros(1, 21, dtype=torch.long))
    with pytest.raises(ValueError, match="BERT"):
        bert_config({"model_type": "gpt2"})
    with pytest.raises(ValueError, match="absolute"):
        bert_config({"model_type": "bert", "position_embedding_type": "relative_key"})


def test_minilm_on_our_code_matches_hugging_face(minilm) -> None:
    from transformers import BertModel

    model, wordpiece = minilm
    hf = BertModel.from_pretrained(str(minilm_folder()), attn_implementation="eager").eval()
    enc = wordpiece.encode("she walked down to the bank to deposit her paycheck.")
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]" and "[PAD]" not in enc.tokens
    idx = torch.tensor([enc.ids])
    with torch.no_grad():
        ref = hf(idx, output_attentions=True)
        hidden, maps = model(idx)
    torch.testing.assert_close(hidden, ref.last_hidden_state, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(maps, torch.stack(ref.attentions), atol=1e-5, rtol=1e-4)
    assert (model.config.n_layer, model.config.n_head, model.config.d_model) == (6, 12, 384)


def test_minilm_attends_ahead(minilm) -> None:
    model, wordpiece = minilm
    enc = wordpiece.encode("she walked down to the bank to deposit her paycheck.")
    with torch.no_grad():
        maps = model(torch.tensor([enc.ids]))[1][:, 0]
    T = len(enc.tokens)
    later = torch.ones(T, T, dtype=torch.bool).triu(1)
    not_sep = torch.tensor([t != "[SEP]" for t in enc.tokens])
    ahead = (maps * later).sum(-1)[..., :-1].mean(-1).mean(-1)
    ahead_words = (maps * (later & not_sep)).sum(-1)[..., :-1].mean(-1).mean(-1)
    assert (ahead_words > 0.1).all() and (ahead >= ahead_words).all()
    next_token = maps.diagonal(offset=1, dim1=-2, dim2=-1).mean(-1)
    layer, head = divmod(int(next_token.argmax()), maps.size(1))
    assert (layer, head) == (1, 8) and next_token[layer, head] > 0.5
    # a causal run of the same weights puts nothing ahead
    with torch.no_grad():
        causal_maps = model(torch.tensor([enc.ids]), causal=True)[1]
    assert (causal_maps * later).sum() == 0


def test_bank_vectors_reflect_the_words_after_them(minilm) -> None:
    model, wordpiece = minilm

    def vector_of(sentence: str, causal: bool = False) -> torch.Tensor:
        enc = wordpiece.encode(sentence)
        with torch.no_grad():
            return model(torch.tensor([enc.ids]), causal=causal)[0][0, enc.tokens.index("bank")]

    prefix = "she walked down to the bank"
    river_end, money_end = (
        [" to fish for trout.", " of the muddy river."],
        [" to deposit her paycheck.", " to withdraw some cash."],
    )
    river = vector_of("the river bank was steep and covered in mud.")
    money = vector_of("the bank raised the interest rate on loans.")
    for e in river_end + money_end:
        v = vector_of(prefix + e)
        closer_to_river = F.cosine_similarity(v, river, dim=0) > F.cosine_similarity(
            v, money, dim=0
        )
        assert closer_to_river == (e in river_end), e
    vectors = [vector_of(prefix + e, causal=True) for e in river_end + money_end]
    assert all(torch.equal(vectors[0], v) for v in vectors[1:])
    assert wordpiece.encode(prefix).tokens.index("bank") == 6


# ------------------------------------------------------------------------ MLM
def test_mask_for_mlm_contract() -> None:
    torch.manual_seed(0)
    ids = torch.randint(5, 1000, (4, 50))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -1] = False
    g = torch.Generator().manual_seed(0)
    inputs, targets = mask_for_mlm(ids, 3, 1000, maskable, p=0.5, generator=g)
    chosen = targets != -100
    assert not chosen[:, 0].any() and not chosen[:, -1].any()
    assert torch.equal(targets[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    again = mask_for_mlm(ids, 3, 1000, maskable, p=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], inputs) and torch.equal(again[1], targets)


def test_mask_for_mlm_rates() -> None:
    ids = torch.randint(1000, 30_522, (2000, 50), generator=torch.Generator().manual_seed(0))
    inputs, targets = mask_for_mlm(ids, 103, 30_522, generator=torch.Generator().manual_seed(1))
    chosen = targets != -100
    assert abs(chosen.float().mean().item() - 0.15) < 0.005
    masked = (inputs[chosen] == 103).float().mean().item()
    kept = (inputs[chosen] == ids[chosen]).float().mean().item()
    assert abs(masked - 0.8) < 0.01 and abs(kept - 0.1) < 0.01
    assert abs(1 - masked - kept - 0.1) < 0.01  # the rest: random ids


def test_page_mlm_example_finds_all_three_cases(minilm) -> None:
    _, wordpiece = minilm
    enc = wordpiece.encode(
        "the encoder reads the whole sentence before it predicts the missing words."
    )
    ids = torch.tensor([enc.ids])
    maskable = torch.tensor([[t not in ("[CLS]", "[SEP]") for t in enc.tokens]])
    mask_id = wordpiece.token_to_id("[MASK]")
    for seed in range(1000):
        inputs, targets = mask_for_mlm(
            ids,
            mask_id,
            wordpiece.get_vocab_size(),
            maskable,
            generator=torch.Generator().manual_seed(seed),
        )
        c = targets != -100
        if (
            (c & (inputs == mask_id)).any()
            and (c & (inputs == ids)).any()
            and (c & (inputs != mask_id) & (inputs != ids)).any()
        ):
            break
    else:
        pytest.fail("no seed below 1000 shows all three cases")


# -------------------------------------------------------------------- decoder
def test_one_decoder_pass_equals_every_prefix_pass() -> None:
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=500, block_size=32, n_layer=2, n_head=4, d_model=64)).eval()
    ids = torch.randint(0, 500, (1, 17))
    with torch.no_grad():
        full = gpt(ids)[0][0]
        for t in range(17):
            torch.testing.assert_close(
                full[t], gpt(ids[:, : t + 1])[0][0, -1], atol=1e-5, rtol=1e-5
            )


def test_bidirectional_next_token_training_cheats() -> None:
    runs = cached_next_token_runs()
    ln_v = math.log(16)
    causal_losses, causal_final = runs["causal"]
    bidi_losses, bidi_final = runs["bidirectional"]
    assert len(causal_final) == len(bidi_final) == 8 and len(causal_losses) == 300
    assert all(abs(x - ln_v) < 0.1 for x in causal_final)
    assert all(x < 0.05 for x in bidi_final[:-1])
    assert abs(bidi_final[-1] - ln_v) < 0.3
    assert abs(sum(bidi_losses[-20:]) / 20 - ln_v / 8) < 0.1
    assert sum(causal_losses[-20:]) / 20 > ln_v - 0.05


def test_train_next_token_is_the_mask_flag_only() -> None:
    # the two runs differ only in the causal flag of the same model
    a, b = TinyLM(GPTConfig(**TINY), causal=True), TinyLM(GPTConfig(**TINY), causal=False)
    b.load_state_dict(a.state_dict())
    idx = torch.randint(0, 61, (2, 9))
    la, lb = a(idx), b(idx)
    assert la.shape == (2, 9, 61)
    torch.testing.assert_close(la[:, -1], lb[:, -1], atol=1e-5, rtol=1e-5)  # last sees all anyway
    assert not torch.allclose(la[:, 0], lb[:, 0])
    losses, final = train_next_token(causal=True, steps=3)
    assert len(losses) == 3 and len(final) == 8


# ------------------------------------------------------------ cross-attention
def test_cross_attention_matches_torch_multihead_attention() -> None:
    torch.manual_seed(0)
    cross = CrossAttention(32, 4)
    y, z = torch.randn(2, 4, 32), torch.randn(2, 6, 32)
    out, weights = cross(y, z)
    assert out.shape == (2, 4, 32) and weights.shape == (2, 4, 4, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 4))
    ref = torch.nn.MultiheadAttention(32, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([cross.q.weight, cross.kv.weight]))
        ref.in_proj_bias.copy_(torch.cat([cross.q.bias, cross.kv.bias]))
        ref.out_proj.weight.copy_(cross.proj.weight)
        ref.out_proj.bias.copy_(cross.proj.bias)
        ref_out, ref_weights = ref(y, z, z, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-6, rtol=1e-5)


def test_cross_attention_matches_torch_sdpa_and_reads_only_the_memory() -> None:
    torch.manual_seed(0)
    cross = CrossAttention(24, 3, bias=False)
    y, z = torch.randn(1, 5, 24), torch.randn(1, 7, 24)
    out, _ = cross(y, z)
    q = cross.q(y).view(1, 5, 3, 8).transpose(1, 2)
    k, v = cross.kv(z).split(24, dim=-1)
    k, v = (t.view(1, 7, 3, 8).transpose(1, 2) for t in (k, v))
    ref = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(1, 5, 24)
    torch.testing.assert_close(out, cross.proj(ref), atol=1e-6, rtol=1e-5)
    # decoder position t depends only on its own query and the memory
    y2 = y.clone()
    y2[0, 3] += 1.0
    out2, _ = cross(y2, z)
    torch.testing.assert_close(out2[0, [0, 1, 2, 4]], out[0, [0, 1, 2, 4]])
    # a later memory position does change every output: no mask
    z2 = z.clone()
    z2[0, -1] += 1.0
    assert (cross(y, z2)[0] - out).abs().amax(-1).min() > 1e-4


def test_cross_attention_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="divisible"):
        CrossAttention(30, 4)
    with pytest.raises(ValueError, match="memory"):
        CrossAttention(32, 4)(torch.randn(2, 3, 32), torch.randn(1, 5, 32))
