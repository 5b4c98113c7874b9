"""`python -m groundup.generate`: streams a continuation of the prompt from the site model."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest

from groundup import generate as cli
from groundup import site
from groundup.inference import generate
from groundup.tokenizer import BPETokenizer


def test_help_documents_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "groundup.generate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for action in cli.build_parser()._actions:
        for flag in action.option_strings:
            assert flag in out
        assert action.help and action.help != "==SUPPRESS=="
    assert "--temperature" in out and "--top-p" in out


def test_streams_the_site_models_continuation(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["The function", "--max-new-tokens", "12", "--temperature", "0.8", "--seed", "3"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    loaded = site.load_site_model()
    tok = loaded.tokenizer
    prompt = tok.encode_ordinary("The function")
    expected = generate(loaded.model, prompt, 12, temperature=0.8, seed=3)[0, len(prompt) :]
    eos = tok.special_tokens["<|endoftext|>"]
    kept = [i for i in expected.tolist() if i != eos]
    assert text == "The function" + tok.decode(kept) + "\n"


def test_greedy_with_and_without_cache_print_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["def ", "--max-new-tokens", "10", "--temperature", "0"])
    cached = capsys.readouterr().out
    cli.main(["def ", "--max-new-tokens", "10", "--temperature", "0", "--no-cache"])
    assert capsys.readouterr().out == cached


def test_it_trains_the_site_model_with_a_progress_bar_when_the_cache_is_empty(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}
    real = site.load_site_model

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        print("step 25: train loss 7.1, eval loss 7.0")  # what training logs, on stdout
        return real()

    monkeypatch.setattr(site, "load_site_model", spy)
    cli.main(["x", "--max-new-tokens", "1"])
    assert seen == {"progress": True}
    out, err = capsys.readouterr()
    assert "train loss" in err and "train loss" not in out  # stdout holds only the text
    # the bar does not change the run: the same cache folder, and the config asks for it
    assert site.site_run_dir() == site.site_run_dir(**{})
    config = site.site_run_config(site.site_run_dir(), progress=True)
    quiet = site.site_run_config(site.site_run_dir())
    assert config.progress and not quiet.progress
    assert dataclasses.replace(quiet, progress=True) == config


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x", "--top-p", "1.5"], "top_p"),
        (["x", "--temperature", "-1"], "temperature"),
        (["x", "--top-k", "0"], "top_k"),
    ],
)
def test_bad_settings_exit_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_character_split_across_tokens_is_printed_whole() -> None:
    tok = BPETokenizer.train("ab" * 50, 258)  # byte-level: é is two byte tokens
    ids = list("é".encode())
    assert list(cli.stream_text(tok, iter(ids))) == ["é"]
