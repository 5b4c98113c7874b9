"""Encoding one pre-token with a rank table, exactly as tiktoken does."""

from __future__ import annotations


# --8<-- [start:bpe_encode_piece]
def bpe_encode_piece(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """Encode one pre-token: start from single bytes, then repeatedly merge the
    adjacent pair whose concatenation has the lowest rank (leftmost on ties),
    until no adjacent pair is in the vocabulary.
    """
    if piece in ranks:  # whole pre-token is one token: the common case
        return [ranks[piece]]
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best_rank, best_i = None, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best_rank is None or rank < best_rank):
                best_rank, best_i = rank, i
        if best_i < 0:
            break
        parts[best_i : best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return [ranks[part] for part in parts]


# --8<-- [end:bpe_encode_piece]
