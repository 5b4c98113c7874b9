"""The site's shared, cached artefacts: its corpus, its tokenizer and its model.

Every article that needs "the site tokenizer" calls `site_tokenizer()`, and
every article that needs "the site model" calls `load_site_model()`. The first
call trains it (ten seconds or so for the tokenizer, a few minutes for the
model) and later calls load it from the cache, keyed by a hash of the corpus,
the settings and the code that produces it. Within one process (a site build) it
is loaded once: `groundup.cache.Memoized` returns the same object to every later
call with the same cache folder, so the shared result must not be mutated.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import groundup.model.attention
import groundup.model.block
import groundup.model.config
import groundup.model.gpt
import groundup.model.mlp
import groundup.model.norms
import groundup.model.positions
import groundup.tokenizer.bpe
import groundup.tokenizer.encode
import groundup.tokenizer.files
import groundup.tokenizer.train
import groundup.train.checkpoint
import groundup.train.data
import groundup.train.heldout
import groundup.train.loop
import groundup.train.loss
import groundup.train.optim
import groundup.train.schedule
from groundup.atomic import atomic_write_text
from groundup.cache import Memoized, cache_path, fingerprint, timed
from groundup.corpus import default_documents, join_documents, split_documents
from groundup.model import GPT, GPTConfig
from groundup.tokenizer import GPT4_SPLIT_PATTERN, BPETokenizer
from groundup.train import (
    TrainConfig,
    latest_checkpoint,
    load_checkpoint,
    open_tokens,
    train,
    write_tokens,
)
from groundup.train.heldout import heldout_loss, unigram_loss

SITE_VOCAB_SIZE = 4096
SITE_SPECIAL_TOKENS = ("<|endoftext|>",)
_TOKENIZER_CODE = (
    groundup.tokenizer.bpe,
    groundup.tokenizer.encode,
    groundup.tokenizer.files,
    groundup.tokenizer.train,
)
_MODEL_CODE = (
    groundup.model.attention,
    groundup.model.block,
    groundup.model.config,
    groundup.model.gpt,
    groundup.model.mlp,
    groundup.model.norms,
    groundup.model.positions,
    groundup.train.checkpoint,
    groundup.train.data,
    groundup.train.loop,
    groundup.train.loss,
    groundup.train.optim,
    groundup.train.schedule,
)


@cache
def site_corpus() -> tuple[str, str]:
    """The site's (train, held-out) text: the built-in corpus, about 10% of its documents held out.

    Whole documents are held out (`groundup.corpus.is_heldout_document`), so no held-out
    text is the continuation of a training document.
    """
    train, heldout = split_documents(default_documents(), holdout=0.1)
    return join_documents(train), join_documents(heldout)


@Memoized  # loaded once per process (pages ask for it about ninety times a build)
@timed("site tokenizer")
# --8<-- [start:site_tokenizer]
def site_tokenizer(
    vocab_size: int = SITE_VOCAB_SIZE,
    pattern: str = GPT4_SPLIT_PATTERN,
    special_tokens: tuple[str, ...] = SITE_SPECIAL_TOKENS,
) -> BPETokenizer:
    """Our tokenizer trained on the site's training text, cached on disk."""
    train_text, _ = site_corpus()
    inputs = {
        "corpus": hashlib.sha256(train_text.encode()).hexdigest(),
        "vocab_size": vocab_size,
        "pattern": pattern,
        "special_tokens": special_tokens,
    }
    path = cache_path("tokenizer", inputs, _TOKENIZER_CODE, suffix=".json")
    if path.exists():
        return BPETokenizer.load(path)
    tok = BPETokenizer.train(train_text, vocab_size, pattern, special_tokens)
    tok.save(path)
    return tok


# --8<-- [end:site_tokenizer]


# ---------------------------------------------------------------------------- the site model
# --8<-- [start:site_model_config]
# GPT-2 flavour, without dropout: the run sees its training text less than once
SITE_MODEL = {"n_layer": 4, "n_head": 4, "d_model": 128}
SITE_TRAINING = {
    "batch_size": 16,
    "block_size": 128,
    "max_steps": 600,
    "lr": 3e-3,
    "min_lr": 3e-4,
    "warmup_steps": 60,
    "weight_decay": 0.1,
    "grad_clip": 1.0,
    "eval_interval": 25,
    "eval_iters": 8,
    "checkpoint_interval": 100,
    "seed": 1337,
}
# --8<-- [end:site_model_config]


@dataclass
class SiteModel:
    """The site's trained GPT, its tokenizer, and the record of its training run."""

    model: GPT  # in eval mode, on the CPU
    tokenizer: BPETokenizer
    train_config: TrainConfig
    losses: list[float]  # training loss of every update
    eval_losses: dict[int, float]  # step -> loss on fixed batches of the held-out text
    train_seconds: float  # wall time of the training run that produced it
    heldout_loss: float  # mean loss over every held-out token (nats per token)
    unigram_loss: float  # the same for a unigram model of the training tokens
    heldout_tokens: int
    run_dir: Path  # the run's folder in the cache (checkpoints, summary)


@Memoized
@timed("site token files")
def site_token_files() -> tuple[Path, Path]:
    """The site corpus encoded with the site tokenizer: (train, held-out) token files."""
    tok = site_tokenizer()
    train_text, heldout_text = site_corpus()
    paths = []
    for name, text in (("train", train_text), ("heldout", heldout_text)):
        inputs = {"text": hashlib.sha256(text.encode()).hexdigest(), "tokenizer": _tokenizer_key()}
        path = cache_path(f"tokens-{name}", inputs, (groundup.train.data,), suffix=".bin")
        if not path.exists():
            write_tokens(path, tok.encode_ordinary(text), tok.vocab_size)
        paths.append(path)
    return paths[0], paths[1]


def site_run_config(
    out_dir: Path, model: dict[str, Any] | None = None, progress: bool = False, **training: Any
) -> TrainConfig:
    """The TrainConfig of the site model (or of a variant with other model fields);
    progress shows a bar while it trains (it does not change the run)."""
    train_path, heldout_path = site_token_files()
    return TrainConfig(
        train_data=str(train_path),
        val_data=str(heldout_path),
        out_dir=str(out_dir),
        model={**SITE_MODEL, **(model or {})},
        progress=progress,
        **{**SITE_TRAINING, **training},
    )


@timed(
    "site model",
    missing=lambda model=None, progress=False, **training: _summary_path(model, **training),
)
# --8<-- [start:load_site_model]
def load_site_model(
    model: dict[str, Any] | None = None, progress: bool = False, **training: Any
) -> SiteModel:
    """The site model, trained on first use and cached on disk.

    Training runs through `groundup.train` with checkpoints in the cache folder,
    so a build killed mid-training resumes where it stopped. `model` and
    `training` override fields of SITE_MODEL and SITE_TRAINING (for variants);
    `progress` shows a progress bar while it trains.
    """
    run_dir = site_run_dir(model, **training)
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        config = site_run_config(run_dir, model, progress, **training)
        resumed = latest_checkpoint(run_dir)
        started = time.perf_counter()
        train(config, resume=resumed is not None)
        seconds = time.perf_counter() - started
        atomic_write_text(
            summary_path,
            json.dumps(
                {
                    "train_seconds": seconds,
                    "resumed_from": None if resumed is None else resumed.name,
                }
            ),
        )
    return _load_run(run_dir)


# --8<-- [end:load_site_model]


# A draft model for speculative decoding: the site model's tokenizer, data and
# schedule and steps, one narrow layer, so that a token costs about a third
# of the site model's.
SITE_DRAFT_MODEL = {"n_layer": 1, "n_head": 2, "d_model": 64}
SITE_DRAFT_TRAINING = {"max_steps": 600, "warmup_steps": 60}


def load_site_draft(progress: bool = False) -> SiteModel:
    """The draft model, trained on first use and cached like the site model."""
    return load_site_model(SITE_DRAFT_MODEL, progress=progress, **SITE_DRAFT_TRAINING)


def _summary_path(model: dict[str, Any] | None = None, **training: Any) -> Path:
    return site_run_dir(model, **training) / "summary.json"


@Memoized
def site_run_dir(model: dict[str, Any] | None = None, **training: Any) -> Path:
    """The cache folder of the site model's run, or of a variant's (same arguments as
    `load_site_model`). Its name hashes the settings, the token files and the code."""
    key = {
        "model": {**SITE_MODEL, **(model or {})},
        "training": {**SITE_TRAINING, **training},
        "tokens": [p.name for p in site_token_files()],
    }
    return cache_path("site-model", key, _MODEL_CODE)


def _scored_heldout_loss(
    run_dir: Path, summary: dict[str, Any], gpt: GPT, heldout_path: Path
) -> float:
    """The model's mean loss over every held-out token, scored once per run and kept in
    its summary.json (keyed by the held-out tokens and the scoring code), so a warm build
    reads it instead of scoring every held-out token again at each load."""
    key = fingerprint({"heldout": heldout_path.name}, (groundup.train.heldout,))
    kept = summary.get("heldout")
    if kept is not None and kept.get("key") == key:
        return float(kept["loss"])
    loss = heldout_loss(gpt, open_tokens(heldout_path))
    summary = {**summary, "heldout": {"key": key, "loss": loss}}
    atomic_write_text(run_dir / "summary.json", json.dumps(summary))
    return loss


@cache
def _load_run(run_dir: Path) -> SiteModel:
    summary = json.loads((run_dir / "summary.json").read_text())
    latest = latest_checkpoint(run_dir)
    if latest is None:
        raise FileNotFoundError(f"{run_dir} holds no checkpoint; delete it to retrain")
    checkpoint = load_checkpoint(latest)
    train_path, heldout_path = site_token_files()  # not the paths stored in the checkpoint:
    config = TrainConfig(
        **{
            **checkpoint["train_config"],
            "out_dir": str(run_dir),  # the cache
            "train_data": str(train_path),
            "val_data": str(heldout_path),
        }
    )  # may move
    gpt = GPT(GPTConfig(**checkpoint["model_config"]))
    gpt.load_state_dict(checkpoint["model"])
    gpt.eval()
    train_ids = open_tokens(train_path)
    heldout_ids = open_tokens(heldout_path)
    return SiteModel(
        model=gpt,
        tokenizer=site_tokenizer(),
        train_config=config,
        losses=list(checkpoint["losses"]),
        eval_losses={int(k): v for k, v in checkpoint["eval_losses"].items()},
        train_seconds=summary["train_seconds"],
        heldout_loss=_scored_heldout_loss(run_dir, summary, gpt, heldout_path),
        unigram_loss=unigram_loss(train_ids, heldout_ids, gpt.config.vocab_size),
        heldout_tokens=len(heldout_ids),
        run_dir=run_dir,
    )


@Memoized
def _tokenizer_key() -> str:
    return hashlib.sha256(
        json.dumps(sorted((b.hex(), i) for b, i in site_tokenizer().ranks.items())).encode()
    ).hexdigest()
