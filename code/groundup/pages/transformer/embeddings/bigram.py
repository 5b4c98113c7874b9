"""The smallest model with a token embedding: a bigram model on the site corpus.

It predicts the next token from the current one alone, through a d-dimensional
embedding: logits = head(E[id]). Nothing tells it that "5" and "7" are both
digits; if their rows of E end up close, it is because they are followed by
similar tokens. The embeddings article trains it at build time (a few seconds,
then cached) and looks at the geometry of E.
"""

from __future__ import annotations

import hashlib
import io
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from groundup.atomic import atomic_write_bytes
from groundup.cache import cache_path, timed
from groundup.pages.transformer.timing import one_thread

# Token strings grouped by what they are. Each is one token of the site tokenizer and
# among its 1,024 most frequent on Python 3.10 to 3.13, whose corpora differ.
TOKEN_GROUPS: dict[str, list[str]] = {
    "digits": [str(i) for i in range(10)],
    "determiners": [" the", " a", " an", " this", " each", " any", " its", " some"],
    "prepositions": [" of", " in", " for", " with", " from", " to", " on", " by"],
    "verbs": [" is", " are", " was", " be", " has", " can", " will", " may"],
    "Python types": [" object", " list", " dict", " tuple", " set", " bytes"],
}


# --8<-- [start:bigram]
class BigramModel(nn.Module):
    """Next-token scores from the current token alone: ids (N,) -> logits (N, n_out)."""

    def __init__(self, n_in: int, n_out: int, dim: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(n_in, dim)  # E: one learned row per token
        self.head = nn.Linear(dim, n_out)  # scores every possible next token
        nn.init.normal_(self.emb.weight, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.emb(ids))


def bigram_loss(model: BigramModel, counts: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every bigram of the corpus at once.

    counts[a, b] (n_in, n_out) is how often token b follows token a, so this is
    the average of -log p(b | a) over all adjacent pairs.
    """
    log_p = F.log_softmax(model(torch.arange(counts.size(0))), dim=-1)  # (n_in, n_out)
    return -(counts * log_p).sum() / counts.sum()


# --8<-- [end:bigram]


def bigram_counts(ids: torch.Tensor, n_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The n_tokens most frequent ids (K,), and counts (K, K + 1) of which follows which.

    Column K counts every next token outside the K (one "other" class), so the
    model still has to predict them; pairs whose first token is outside are dropped.
    """
    freq = torch.bincount(ids)
    top = torch.argsort(freq, descending=True, stable=True)[:n_tokens]
    index = torch.full((freq.numel(),), n_tokens)  # id -> row; n_tokens = "other"
    index[top] = torch.arange(top.numel())
    a, b = index[ids[:-1]], index[ids[1:]]
    counts = torch.zeros(n_tokens + 1, n_tokens + 1)
    counts.index_put_((a, b), torch.ones(a.numel()), accumulate=True)
    return top, counts[:n_tokens]


@dataclass
class BigramEmbedding:
    """A trained bigram model's embedding. Row r of `init` and `trained` belongs to token id `ids[r]`."""

    ids: torch.Tensor  # (K,) token ids, most frequent first
    init: torch.Tensor  # (K, dim) E before training
    trained: torch.Tensor  # (K, dim) E after training
    losses: list[float]  # the loss before each step, then after the last
    coverage: float  # share of the corpus's bigrams whose first token has a row

    def row(self, token_id: int) -> int:
        """The row of E that belongs to `token_id` (KeyError if it has none)."""
        hits = (self.ids == token_id).nonzero()
        if hits.numel() == 0:
            raise KeyError(f"token id {token_id} is not among the {self.ids.numel()} embedded ids")
        return int(hits[0, 0])


def train_bigram(
    ids: torch.Tensor,
    n_tokens: int = 1024,
    dim: int = 32,
    steps: int = 150,
    lr: float = 0.05,
    seed: int = 0,
) -> BigramEmbedding:
    """Train `BigramModel` full-batch with Adam on the bigrams of `ids` (a 1-D tensor)."""
    top, counts = bigram_counts(ids, n_tokens)
    torch.manual_seed(seed)
    model = BigramModel(top.numel(), n_tokens + 1, dim)
    init = model.emb.weight.detach().clone()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = bigram_loss(model, counts)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        losses.append(bigram_loss(model, counts).item())
    coverage = counts.sum().item() / (ids.numel() - 1)
    return BigramEmbedding(top, init, model.emb.weight.detach().clone(), losses, coverage)


@timed("bigram embedding")
def site_bigram_embedding() -> BigramEmbedding:
    """`train_bigram` on the site tokenizer's encoding of the site's training text, cached."""
    from groundup.site import site_corpus, site_tokenizer

    this = sys.modules[__name__]

    ids = torch.tensor(site_tokenizer().encode_ordinary(site_corpus()[0]))
    digest = hashlib.sha256(ids.numpy().tobytes()).hexdigest()
    path = cache_path("bigram-embedding", {"ids": digest}, [this], suffix=".pt")
    if path.exists():
        return BigramEmbedding(**torch.load(path, weights_only=True))
    with one_thread():  # a small model: one thread is faster than several
        result = train_bigram(ids)
    buffer = io.BytesIO()
    torch.save(vars(result), buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return result
