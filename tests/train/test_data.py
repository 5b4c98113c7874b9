"""Token files (format, corruption) and batches (teacher forcing, determinism)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groundup.train import (
    BatchLoader,
    TokenFileError,
    batch_generator,
    get_batch,
    open_tokens,
    write_tokens,
)
from groundup.train.data import HEADER, read_header


@pytest.fixture
def token_file(tmp_path):
    ids = np.random.default_rng(0).integers(0, 256, size=5000)
    return write_tokens(tmp_path / "toks.bin", ids, vocab_size=256), ids


def test_round_trip_uint16(token_file) -> None:
    path, ids = token_file
    tokens = open_tokens(path)
    assert tokens.dtype == np.dtype("<u2")
    np.testing.assert_array_equal(tokens, ids)
    assert path.stat().st_size == HEADER.size + 2 * len(ids)
    assert read_header(path)["vocab_size"] == 256


def test_round_trip_uint32_for_large_vocab(tmp_path) -> None:
    ids = np.array([0, 65535, 65536, 100_276, 7])
    path = write_tokens(tmp_path / "big.bin", ids, vocab_size=100_277)
    tokens = open_tokens(path)
    assert tokens.dtype == np.dtype("<u4")
    np.testing.assert_array_equal(tokens, ids)
    # the largest vocabulary that still fits uint16
    path = write_tokens(tmp_path / "edge.bin", [65535, 0], vocab_size=65536)
    assert open_tokens(path).dtype == np.dtype("<u2")


def test_empty_file_round_trips(tmp_path) -> None:
    path = write_tokens(tmp_path / "empty.bin", [], vocab_size=256)
    assert len(open_tokens(path)) == 0
    with pytest.raises(ValueError, match="does not fit"):
        get_batch(open_tokens(path), 1, 1, batch_generator(0, 0))


@pytest.mark.parametrize(
    ("ids", "vocab", "match"),
    [
        ([0, 256], 256, r"\[0, 256\)"),
        ([-1, 3], 256, r"\[0, 256\)"),
        ([[1, 2]], 256, "1-D"),
        ([0.5], 256, "integers"),
        ([1], 0, "vocab_size"),
    ],
)
def test_write_rejects_bad_ids(tmp_path, ids, vocab, match) -> None:
    with pytest.raises(ValueError, match=match):
        write_tokens(tmp_path / "bad.bin", ids, vocab_size=vocab)
    assert not (tmp_path / "bad.bin").exists()


@pytest.mark.parametrize("keep", [0, 10, HEADER.size - 1, HEADER.size, HEADER.size + 1, -1])
def test_truncated_file_is_rejected(token_file, keep: int) -> None:
    path, _ = token_file
    data = path.read_bytes()
    path.write_bytes(data[: keep if keep >= 0 else len(data) + keep])
    with pytest.raises(TokenFileError, match="truncated"):
        open_tokens(path, verify=False)


def test_extra_bytes_are_rejected(token_file) -> None:
    path, _ = token_file
    path.write_bytes(path.read_bytes() + b"\0\0")
    with pytest.raises(TokenFileError, match="promises"):
        open_tokens(path)


def test_flipped_byte_in_ids_fails_the_checksum(token_file) -> None:
    path, _ = token_file
    data = bytearray(path.read_bytes())
    data[HEADER.size + 1234] ^= 0x01
    path.write_bytes(bytes(data))
    open_tokens(path, verify=False)  # the header is intact, so only verification notices
    with pytest.raises(TokenFileError, match="checksum mismatch"):
        open_tokens(path)


@pytest.mark.parametrize(
    ("offset", "match"),
    [(0, "not a token file"), (8, "version"), (12, "corrupted header"), (16, "promises")],
)
def test_flipped_byte_in_header(token_file, offset: int, match: str) -> None:
    path, _ = token_file
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(TokenFileError, match=match):
        open_tokens(path)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(TokenFileError, match="no such token file"):
        open_tokens(tmp_path / "nope.bin")


def test_batches_are_windows_shifted_by_one(token_file) -> None:
    path, ids = token_file
    tokens = open_tokens(path)
    x, y = get_batch(tokens, batch_size=6, block_size=17, generator=batch_generator(1, 2))
    assert x.shape == y.shape == (6, 17)
    assert x.dtype == y.dtype == torch.int64
    assert x.is_contiguous() and y.is_contiguous()
    assert torch.equal(x[:, 1:], y[:, :-1])  # teacher forcing: y is x shifted left by one
    text = ids.tolist()
    for row_x, row_y in zip(x.tolist(), y.tolist(), strict=True):
        start = next(i for i in range(len(text)) if text[i : i + 17] == row_x)
        assert text[start + 1 : start + 18] == row_y


def test_every_window_position_is_reachable(tmp_path) -> None:
    path = write_tokens(tmp_path / "small.bin", np.arange(10), vocab_size=256)
    tokens = open_tokens(path)
    starts = set()
    for step in range(200):
        x, y = get_batch(tokens, 4, 3, batch_generator(0, step))
        starts.update(x[:, 0].tolist())
        assert int(y.max()) <= 9
    assert starts == set(range(10 - 3))  # 0..6: the last window ends on the last token


def test_batches_depend_only_on_seed_step_shard_stream(token_file) -> None:
    path, _ = token_file
    loader = BatchLoader(path, batch_size=8, block_size=16, seed=5)
    x1, y1 = loader.batch(7, shard=1)
    loader.batch(3)  # drawing other batches in between changes nothing
    torch.randn(10)  # nor does the global RNG
    x2, y2 = BatchLoader(path, batch_size=8, block_size=16, seed=5).batch(7, shard=1)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    others = [
        loader.batch(7, shard=0),  # another rank
        loader.batch(8, shard=1),  # another step
        BatchLoader(path, 8, 16, seed=6).batch(7, shard=1),  # another seed
        BatchLoader(path, 8, 16, seed=5, stream=1).batch(7, shard=1),  # eval stream
    ]
    for x, _ in others:
        assert not torch.equal(x, x1)


def test_batch_generator_keys_are_well_mixed() -> None:
    firsts = {
        torch.randint(2**62, (1,), generator=batch_generator(0, step, shard)).item()
        for step in range(50)
        for shard in range(4)
    }
    assert len(firsts) == 200
    with pytest.raises(ValueError, match="step"):
        batch_generator(0, -1)


def test_loader_validates_sizes(token_file, tmp_path) -> None:
    path, _ = token_file
    with pytest.raises(ValueError, match="fewer than block_size"):
        BatchLoader(path, batch_size=2, block_size=5000)
    BatchLoader(path, batch_size=2, block_size=4999).batch(0)  # exactly one window fits
    with pytest.raises(ValueError, match=">= 1"):
        BatchLoader(path, batch_size=0, block_size=4)
    with pytest.raises(TokenFileError):
        BatchLoader(tmp_path / "missing.bin", 2, 4)


@pytest.mark.parametrize("batch_size,block_size", [(0, 4), (2, 0), (-1, 4)])
def test_get_batch_rejects_empty_shapes(batch_size, block_size):
    tokens = np.arange(100, dtype=np.uint16)
    with pytest.raises(ValueError, match="must be >= 1"):
        get_batch(tokens, batch_size, block_size, torch.Generator().manual_seed(0))
