"""docs/transformer/output-head-and-training.md: the output head and weight tying,
cross-entropy at initialisation, perplexity and bits per byte, teacher forcing,
AdamW groups, the schedule, why warmup (replayed updates and a no-warmup run),
token files, checkpoints, and the site model's training run."""

from __future__ import annotations

import hashlib
import math
import os
import re
from pathlib import Path
from typing import TypedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from groundup.model import GPT, GPTConfig
from groundup.pages.transformer.counting import parameter_count, published_shapes
from groundup.pages.transformer.output_head_and_training.checkpoint_contents import (
    describe_checkpoint,
)
from groundup.pages.transformer.output_head_and_training.head import (
    head_inputs,
    is_tied,
    next_token_probs,
    output_head,
    rank_of,
    top_next_tokens,
    tying_savings,
)
from groundup.pages.transformer.output_head_and_training.teacher_forcing import (
    position_losses,
    prefix_losses,
)
from groundup.pages.transformer.output_head_and_training.warmup import NO_WARMUP as PAGE_NO_WARMUP
from groundup.pages.transformer.output_head_and_training.warmup import (
    first_updates,
    site_first_updates,
)
from groundup.pages.transformer.timing import best_time, one_thread
from groundup.site import load_site_model, site_corpus, site_run_dir, site_token_files
from groundup.train import (
    TrainConfig,
    batch_generator,
    get_batch,
    latest_checkpoint,
    load_checkpoint,
    lr_at,
    open_tokens,
    param_groups,
    write_tokens,
)
from groundup.train.checkpoint import HEADER, MAGIC, CheckpointError, decode_checkpoint
from groundup.train.heldout import heldout_loss
from groundup.train.loop import train
from groundup.train.metrics import (
    bits_per_byte,
    perplexity,
    predicted_bytes,
    uniform_loss,
)

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "transformer" / "output-head-and-training.md"


class Training(TypedDict):
    """Fields of the site's training config that the variant changes."""

    max_steps: int
    warmup_steps: int
    min_lr: float


NO_WARMUP: Training = {"max_steps": 150, "warmup_steps": 0, "min_lr": 3e-3}  # the page's variant
N_REPLAY = 30


@pytest.fixture(scope="module")
def site():
    return load_site_model()


@pytest.fixture(scope="module")
def heldout_ids():
    return open_tokens(site_token_files()[1])


@pytest.fixture(scope="module")
def variant():
    return load_site_model(**NO_WARMUP)


@pytest.fixture(scope="module")
def replays():
    return site_first_updates(N_REPLAY), site_first_updates(N_REPLAY, **NO_WARMUP)


def tiny(**changes) -> GPTConfig:
    return GPTConfig(
        **{
            "vocab_size": 50,
            "block_size": 16,
            "n_layer": 2,
            "n_head": 2,
            "d_model": 16,
            "dropout": 0.0,
            **changes,
        }
    )


# ------------------------------------------------------------------ the head
def test_logits_are_hidden_states_times_the_embedding(site, heldout_ids) -> None:
    model = site.model
    x = torch.as_tensor(heldout_ids[:128].astype(np.int64))[None]
    h = head_inputs(model, x)
    with torch.no_grad():
        logits, _ = model(x)
    assert h.shape == (1, 128, model.config.d_model)
    assert logits.shape == (1, 128, model.config.vocab_size)
    assert is_tied(model)
    torch.testing.assert_close(logits, output_head(h, model.tok_emb.weight), atol=1e-5, rtol=0)
    probs = next_token_probs(model, x)
    torch.testing.assert_close(probs, torch.softmax(logits[:, -1], -1))
    torch.testing.assert_close(probs.sum(-1), torch.ones(1))


def test_head_inputs_are_the_final_normed_states() -> None:
    torch.manual_seed(0)
    model = GPT(tiny(tie_weights=False)).eval()
    x = torch.randint(0, 50, (3, 7))
    h = head_inputs(model, x)
    logits, _ = model(x)
    torch.testing.assert_close(logits, output_head(h, model.head.weight))
    assert not is_tied(model)
    assert not model.head._forward_hooks  # the hook is removed again
    # normalised: per position, mean 0 and variance 1 over d (LayerNorm gain 1, bias 0)
    torch.testing.assert_close(h.mean(-1), torch.zeros(3, 7), atol=1e-5, rtol=0)


def test_tying_saves_v_times_d(site) -> None:
    config = site.model.config
    tied, untied = tying_savings(config)
    assert tied == site.model.num_parameters()
    assert untied - tied == config.vocab_size * config.d_model
    assert (untied - tied) / untied > 0.25  # "a lot in a small model"
    for name in ("GPT-2 XL", "Llama 2 7B"):  # "a few percent" at billions
        big = published_shapes()[name]
        total = parameter_count(big.replace(tie_weights=False)).total
        assert total > 1e9 and big.vocab_size * big.d_model / total < 0.05
    assert not GPTConfig.llama().tie_weights and GPTConfig.gpt2().tie_weights


def test_top_next_tokens_and_rank() -> None:
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    ids = [1, 2, 3, 4]
    top = top_next_tokens(model, ids, k=50)
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert sum(p for _, p in top) == pytest.approx(1.0, abs=1e-5)
    for r, (j, p) in enumerate(top[:5], start=1):
        assert rank_of(model, ids, j) == (r, pytest.approx(p))
    long = list(range(40))  # longer than block_size: cropped
    assert top_next_tokens(model, long, 3) == top_next_tokens(model, long[-16:], 3)


def test_page_predictions(site) -> None:
    model, tok = site.model, site.tokenizer
    text = site_corpus()[1]
    anchor = '"__hash__()" that\n   explicitly raises'
    cut = text.index(anchor) + len(anchor)
    assert text[cut : cut + 4] == ' a "'
    prompts = [text[:cut], text[:cut] + ' a "']
    contexts = [tok.encode(p)[-128:] for p in prompts]
    truths = [tok.encode(text[cut : cut + 40])[0], tok.encode(text[cut + 4 : cut + 40])[0]]
    assert tok.decode([truths[0]]) == " a"
    assert "TypeError".startswith(tok.decode([truths[1]]))
    # the prompts tokenize like the file does: the true tokens follow in the full encoding
    full = tok.encode(text[: cut + 40])
    assert full[len(tok.encode(prompts[0])) :][:1] == [truths[0]]
    first = top_next_tokens(model, contexts[0], 8)
    after_quote = [tok.decode([j]) for j, _ in top_next_tokens(model, contexts[1], 8)]
    assert sum(w.isidentifier() for w in after_quote) >= 6  # "the candidates are names"
    assert rank_of(model, contexts[0], truths[0])[0] <= 8  # shown in bold in the table
    assert first[0][1] > 0.2


# ------------------------------------------------------------ cross-entropy
def test_untrained_loss_is_log_v_plus_half_sigma_squared(site, heldout_ids) -> None:
    config = site.model.config
    torch.manual_seed(0)
    init = heldout_loss(GPT(config).eval(), heldout_ids)
    predicted = math.log(config.vocab_size) + 0.02**2 * config.d_model / 2
    assert math.log(config.vocab_size) < init
    assert init == pytest.approx(predicted, abs=0.02)
    assert site.losses[0] == pytest.approx(predicted, abs=0.02)


def test_metrics_by_hand() -> None:
    assert uniform_loss(4096) == pytest.approx(math.log(4096))
    assert perplexity(uniform_loss(4096)) == pytest.approx(4096)
    # a uniform guess over 256 byte values, one byte per token: 8 bits per byte
    assert bits_per_byte(math.log(256), 100, 100) == pytest.approx(8.0)
    # 2 bytes per token halves the bits per byte
    assert bits_per_byte(math.log(256), 50, 100) == pytest.approx(4.0)


def test_predicted_bytes(site, heldout_ids) -> None:
    tok = site.tokenizer
    ids = heldout_ids[:200].tolist()
    assert predicted_bytes(tok, ids) == len(tok.decode_bytes(ids[1:]))
    total = len(site_corpus()[1].encode("utf-8"))
    assert predicted_bytes(tok, heldout_ids) == total - len(tok.token_bytes(int(heldout_ids[0])))


def test_page_scores_table(site, heldout_ids) -> None:
    V = site.model.config.vocab_size
    n_pred, n_bytes = len(heldout_ids) - 1, predicted_bytes(site.tokenizer, heldout_ids)
    assert 3 < n_bytes / n_pred < 5
    assert site.heldout_loss < site.unigram_loss < uniform_loss(V)
    assert perplexity(site.heldout_loss) < perplexity(site.unigram_loss) / 3
    for loss in (site.heldout_loss, site.unigram_loss, uniform_loss(V)):
        assert bits_per_byte(loss, n_pred, n_bytes) < 8


# ------------------------------------------------------------ teacher forcing
def test_get_batch_targets_are_inputs_shifted(site) -> None:
    train_ids = open_tokens(site_token_files()[0])
    x, y = get_batch(train_ids, 2, 10, batch_generator(0, 0))
    assert x.shape == y.shape == (2, 10)
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_one_forward_equals_prefix_forwards_on_the_site_model(site, heldout_ids) -> None:
    model = site.model
    window = torch.as_tensor(heldout_ids[1000:1129].astype(np.int64))
    one = position_losses(model, window)
    many = prefix_losses(model, window)
    with one_thread():
        t_one = best_time(lambda: position_losses(model, window), repeats=3)
        t_many = best_time(lambda: prefix_losses(model, window), repeats=1, warmup=0)
    assert one.shape == many.shape == (128,)
    torch.testing.assert_close(one, many, atol=1e-4, rtol=1e-5)
    with torch.no_grad():
        _, loss = model(window[None, :-1], window[None, 1:])
    assert one.mean().item() == pytest.approx(loss.item(), abs=1e-5)
    assert t_many > 5 * t_one


@pytest.mark.parametrize("positions", ["learned", "rope", "alibi"])
def test_teacher_forcing_holds_for_any_causal_gpt(positions: str) -> None:
    torch.manual_seed(1)
    model = GPT(tiny(positions=positions)).eval()
    window = torch.randint(0, 50, (17,))
    torch.testing.assert_close(
        position_losses(model, window), prefix_losses(model, window), atol=1e-5, rtol=1e-5
    )
    manual = -F.log_softmax(model(window[None, :-1])[0][0], -1)[torch.arange(16), window[1:]]
    torch.testing.assert_close(position_losses(model, window), manual.detach())


# --------------------------------------------------------- optimizer, schedule
def test_param_groups_of_the_site_model(site) -> None:
    model = site.model
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    ids = [id(p) for p in decay["params"]]
    assert ids.count(id(model.tok_emb.weight)) == 1  # the tied matrix, once
    assert id(model.head.weight) in ids
    total = sum(p.numel() for g in (decay, no_decay) for p in g["params"])
    assert total == model.num_parameters()


def test_site_schedule(site) -> None:
    tc = site.train_config
    kw = {
        "max_lr": tc.lr,
        "min_lr": tc.min_lr,
        "warmup_steps": tc.warmup_steps,
        "max_steps": tc.max_steps,
    }
    assert lr_at(0, **kw) == pytest.approx(tc.lr / tc.warmup_steps)
    assert lr_at(tc.warmup_steps - 1, **kw) == pytest.approx(tc.lr)
    assert lr_at(tc.warmup_steps, **kw) == pytest.approx(tc.lr)
    assert lr_at(tc.max_steps - 1, **kw) == pytest.approx(tc.min_lr, rel=1e-3)
    # over the variant's steps the site run's rate stays within 15% of the peak
    assert 0.85 * tc.lr < lr_at(NO_WARMUP["max_steps"] - 1, **kw) < tc.lr


# ------------------------------------------------------------------- warmup
def test_replay_reproduces_the_site_run(site, replays) -> None:
    warm, _ = replays
    assert [u.step for u in warm] == list(range(N_REPLAY))
    assert [u.loss for u in warm] == pytest.approx(site.losses[:N_REPLAY], abs=1e-5)


def test_no_warmup_replay_reproduces_the_variant(variant, replays) -> None:
    _, cold = replays
    assert [u.loss for u in cold] == pytest.approx(variant.losses[:N_REPLAY], abs=1e-5)
    assert all(u.lr == 3e-3 for u in cold)


def test_adam_first_update_is_lr_everywhere(replays) -> None:
    for ups in replays:
        assert ups[0].rms_update / ups[0].lr == pytest.approx(1.0, abs=0.01)
        assert ups[0].grad_norm > 1.0  # clipped, yet a full step
        assert ups[-1].rms_update / ups[-1].lr < 0.6  # later coordinates average out


def test_no_warmup_moves_and_grows_the_weights(replays, site) -> None:
    warm, cold = replays
    assert cold[0].rms_update / cold[0].rms_weight > 0.1
    assert warm[0].rms_update / warm[0].rms_weight < 0.005
    grow_cold = cold[-1].rms_weight / cold[0].rms_weight - 1
    grow_warm = warm[-1].rms_weight / warm[0].rms_weight - 1
    assert grow_cold > 0.4 and grow_cold > 3 * grow_warm
    spike = max(cold, key=lambda u: u.grad_norm)
    # "the gradient norm jumps to ...": 9.5x the clip on Python 3.10 with torch 2.13, more elsewhere
    assert spike.grad_norm > 5 * site.train_config.grad_clip
    assert spike.loss > cold[spike.step - 1].loss
    assert max(u.grad_norm for u in warm[5:]) < 3 * site.train_config.grad_clip


def test_first_update_on_a_tiny_run(tmp_path) -> None:
    write_tokens(tmp_path / "t.bin", np.arange(300) % 50, 50)
    config = TrainConfig(
        train_data=str(tmp_path / "t.bin"),
        out_dir=str(tmp_path / "o"),
        model={"n_layer": 1, "n_head": 2, "d_model": 16, "dropout": 0.0},
        batch_size=4,
        block_size=8,
        max_steps=10,
        warmup_steps=0,
        lr=1e-2,
        min_lr=1e-2,
        weight_decay=0.0,
        progress=False,
    )
    (u,) = first_updates(config, 1)
    assert u.lr == 1e-2 and u.rms_update == pytest.approx(1e-2, rel=1e-3)


def test_warmup_matters_for_the_site_model(site, variant) -> None:
    s, v, u = site.eval_losses, variant.eval_losses, site.unigram_loss
    end = NO_WARMUP["max_steps"]
    assert v[25] < s[25]  # ahead at first: it fits the frequencies fast
    linger = max(k for k in v if k > 0 and v[k] > u - 0.3)
    assert linger >= 50  # then lingers near the unigram baseline
    assert v[end] - s[end] > 0.3  # and ends far behind
    assert all(v[k] > s[k] for k in range(50, end + 1, 25))
    assert v[end] < v[25]  # it does learn, slowly
    assert len(variant.losses) == end and variant.train_config.warmup_steps == 0


# -------------------------------------------------------- data, checkpoints
def test_token_files_are_memory_mapped() -> None:
    for path in site_token_files():
        ids = open_tokens(path)
        assert isinstance(ids, np.memmap) and ids.dtype == np.dtype("<u2")
        assert os.path.getsize(path) == 64 + 2 * len(ids)


def test_site_checkpoint_contents(site) -> None:
    path = latest_checkpoint(site_run_dir())
    assert path is not None
    ckpt = load_checkpoint(path)
    assert ckpt["losses"] == site.losses and ckpt["step"] == len(site.losses)
    described = dict(describe_checkpoint(ckpt))
    assert list(described) == list(ckpt)
    n = site.model.num_parameters()
    assert f"{n:,} numbers" in described["model"]
    assert f"{2 * n:,} numbers" in described["optimizer"]
    assert "tied head" in described["model"]
    assert described["world_size"].startswith("1:")
    for text in described.values():  # every entry is explained, none falls back
        assert " " in text


def test_describe_checkpoint_untied(tmp_path) -> None:
    torch.manual_seed(0)
    model = GPT(tiny(tie_weights=False))
    opt = torch.optim.AdamW(model.parameters())
    model(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))[1].backward()
    opt.step()
    ckpt = {
        "step": 1,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "model_config": {},
        "train_config": {},
        "losses": [1.0],
        "eval_losses": {},
        "rng": [{}],
        "params_sha256": [""],
        "world_size": 1,
    }
    described = dict(describe_checkpoint(ckpt))
    assert "tied" not in described["model"]
    assert f"{model.num_parameters():,} numbers" in described["model"]
    assert f"{2 * model.num_parameters():,} numbers" in described["optimizer"]


def test_a_checkpoint_with_a_good_checksum_but_no_state_is_refused() -> None:
    payload = b"not what torch.save writes"
    data = HEADER.pack(MAGIC, len(payload), hashlib.sha256(payload).digest()) + payload
    with pytest.raises(CheckpointError, match="cannot unpickle"):
        decode_checkpoint(data)


def test_train_evaluates_checkpoints_and_reports_every_step(tmp_path) -> None:
    write_tokens(tmp_path / "t.bin", np.arange(300) % 50, 50)
    config = TrainConfig(
        train_data=str(tmp_path / "t.bin"),
        out_dir=str(tmp_path / "o"),
        model={"n_layer": 1, "n_head": 2, "d_model": 16},
        batch_size=4,
        block_size=8,
        max_steps=3,
        warmup_steps=1,
        eval_interval=2,
        eval_iters=2,
        checkpoint_interval=2,
        progress=False,
    )
    seen: list[tuple[int, float]] = []
    result = train(config, on_step=lambda step, loss: seen.append((step, loss)))
    assert seen == list(enumerate(result.losses, start=1))
    assert sorted(result.eval_losses) == [0, 2, 3]  # at the start, every 2 steps, the end
    assert result.checkpoint == latest_checkpoint(tmp_path / "o")
    assert result.checkpoint is not None
    assert load_checkpoint(result.checkpoint)["step"] == 3
    with pytest.raises(FileExistsError, match="--resume"):
        train(config)


# ------------------------------------------------------------ the site run
def test_site_run_claims(site) -> None:
    tc = site.train_config
    n_train = len(open_tokens(site_token_files()[0]))
    seen = tc.max_steps * tc.batch_size * tc.block_size
    assert seen < n_train  # "larger than the predictions of the run"
    tail = float(np.mean(site.losses[-50:]))
    # "no chance to memorise": the two losses stay within half a nat of each other
    assert abs(site.heldout_loss - tail) < 0.5
    assert site.unigram_loss - site.heldout_loss > 1.0
    assert site.losses[0] > math.log(site.model.config.vocab_size)


def test_page_sample_is_deterministic(site) -> None:
    tok = site.tokenizer

    def sample() -> str:
        out = site.model.generate(
            torch.tensor([tok.encode("The dictionary")]),
            60,
            temperature=0.8,
            top_k=40,
            generator=torch.Generator().manual_seed(0),
        )
        return tok.decode(out[0].tolist())

    text = sample()
    assert text.startswith("The dictionary") and len(text) > 100 and text == sample()


# ----------------------------------------------------------------- the page
MARKER = re.compile(r"#\s*--8<--\s*\[(start|end):([a-z][-_0-9a-z]*)\]")


def test_page_snippets_exist() -> None:
    page = PAGE.read_text(encoding="utf-8")
    refs = re.findall(r'--8<-- "([^":]+):([^"]+)"', page)
    assert len(refs) >= 14
    for path, section in refs:
        text = (ROOT / path).read_text(encoding="utf-8")
        found = [m.group(1) for m in MARKER.finditer(text) if m.group(2) == section]
        assert found == ["start", "end"], (path, section)


def test_page_links_and_variant_match_the_tests() -> None:
    page = PAGE.read_text(encoding="utf-8")
    for target in (
        "encoder-decoder.md",
        "layers-blocks-heads.md",
        "walkthrough.md",
        "embeddings.md#tied-input-and-output-embeddings",
        "../tokenization/tokenizers-in-practice.md#compression",
    ):
        assert f"]({target})" in page, target
    assert "    NO_WARMUP,\n" in page and "load_site_model(**NO_WARMUP)" in page
    assert PAGE_NO_WARMUP == NO_WARMUP  # the variant the page loads is the one tested here
    assert load_site_model().train_config.lr == NO_WARMUP["min_lr"]  # no warmup, peak lr
    assert "n_replay = 30" in page and N_REPLAY == 30
