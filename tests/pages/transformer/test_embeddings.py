"""groundup.pages.transformer.embeddings.measurements and groundup.pages.transformer.embeddings.bigram, and every claim
docs/transformer/embeddings.md makes about what they compute."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from groundup.model import GPT, GPTConfig
from groundup.pages.transformer.counting import parameter_count, published_shapes
from groundup.pages.transformer.embeddings.bigram import (
    TOKEN_GROUPS,
    BigramModel,
    bigram_counts,
    bigram_loss,
    site_bigram_embedding,
    train_bigram,
)
from groundup.pages.transformer.embeddings.measurements import (
    cosine_similarity,
    embed,
    embed_one_hot,
    embedding_parameters,
    group_similarity,
    nearest,
    pca_2d,
    rows_changed,
    rows_moved_by_second_step,
    rows_with_gradient,
)
from groundup.site import site_tokenizer


@pytest.fixture(scope="module")
def tok():
    return site_tokenizer()


@pytest.fixture(scope="module")
def bigram():
    return site_bigram_embedding()


# ----------------------------------------------------------------- lookup
def test_lookup_equals_one_hot_product_and_nn_embedding_exactly() -> None:
    torch.manual_seed(0)
    E = torch.randn(50, 7)
    ids = torch.randint(0, 50, (3, 11))
    table = nn.Embedding(50, 7)
    table.weight.data.copy_(E)
    x = embed(ids, E)
    assert x.shape == (3, 11, 7)
    assert torch.equal(x, embed_one_hot(ids, E))
    assert torch.equal(x, table(ids))
    assert torch.equal(x[1, 4], E[ids[1, 4]])


def test_one_hot_lookup_gives_the_same_gradient() -> None:
    torch.manual_seed(0)
    ids = torch.tensor([[3, 1, 3, 0]])
    g = torch.randn(1, 4, 5)
    E1 = torch.randn(6, 5, requires_grad=True)
    E2 = E1.detach().clone().requires_grad_(True)
    (embed(ids, E1) * g).sum().backward()
    (embed_one_hot(ids, E2) * g).sum().backward()
    torch.testing.assert_close(E1.grad, E2.grad)


# ------------------------------------------------------------------- cost
def test_embedding_parameters_tied_and_untied() -> None:
    c = GPTConfig(vocab_size=100, d_model=8)
    assert embedding_parameters(c) == 800
    assert embedding_parameters(c.replace(tie_weights=False)) == 1600


def test_cost_table_claims() -> None:
    configs = {"default": GPTConfig(), **published_shapes()}
    share = {n: embedding_parameters(c) / parameter_count(c).total for n, c in configs.items()}
    # a large part of a small model; falls with size at a fixed vocabulary
    assert share["default"] > 0.3 and share["GPT-2 small"] > 0.3
    assert share["GPT-2 small"] > share["GPT-2 medium"] > share["GPT-2 XL"]
    assert share["Llama 2 7B"] > share["Llama 2 70B"]
    assert share["Llama 2 70B"] < 0.05 and share["GPT-2 XL"] < 0.06  # "a few percent"
    # Llama 3 kept Llama 2's width and quadrupled the vocabulary
    l2, l3 = configs["Llama 2 7B"], configs["Llama 3 8B"]
    assert l2.d_model == l3.d_model and not l2.tie_weights and not l3.tie_weights
    assert embedding_parameters(l3) - embedding_parameters(l2) == 2 * (128_256 - 32_000) * 4096
    assert configs["GPT-2 small"].tie_weights
    # the count the table uses is our model's
    for c in (GPTConfig(), GPTConfig.llama(vocab_size=300, n_layer=2, n_kv_heads=2)):
        assert parameter_count(c).total == GPT(c).num_parameters()


# --------------------------------------------------------------- learning
def test_gradient_reaches_only_the_rows_in_the_batch(tok) -> None:
    torch.manual_seed(0)
    V, d = tok.vocab_size, 16
    table = nn.Embedding(V, d)
    ids = torch.tensor(tok.encode("The cat sat on the mat by the door."))
    readout = torch.randn(len(ids), d)
    (table(ids) * readout).sum().backward()
    grad = table.weight.grad
    assert grad is not None
    assert rows_with_gradient(grad) == sorted(set(ids.tolist()))
    the = tok.encode(" the")[0]
    where = (ids == the).nonzero().flatten().tolist()
    assert len(where) == 2  # the page's sentence repeats a token
    torch.testing.assert_close(grad[the], readout[where].sum(0))


def test_rows_with_gradient_and_rows_changed() -> None:
    grad = torch.zeros(5, 3)
    grad[1, 2] = 1e-30
    grad[4, 0] = -2.0
    assert rows_with_gradient(grad) == [1, 4]
    a = torch.zeros(4, 2)
    b = a.clone()
    b[2, 1] = 1.0
    assert rows_changed(a, b) == [2]


def test_which_rows_each_optimiser_moves() -> None:
    V, d = 4096, 16
    perm = torch.randperm(V, generator=torch.Generator().manual_seed(1))
    a, b = perm[:20], perm[20:30]
    set_a, set_b = set(a.tolist()), set(b.tolist())

    def moved(make):
        return set(rows_moved_by_second_step(make, V, d, a, b))

    assert moved(lambda p: torch.optim.SGD(p, lr=0.1)) == set_b
    assert moved(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)) == set_a | set_b
    assert moved(lambda p: torch.optim.Adam(p, lr=0.1)) == set_a | set_b
    assert moved(lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.1)) == set(range(V))


def test_tied_head_gives_every_row_a_gradient(tok) -> None:
    V = tok.vocab_size
    small = dict(vocab_size=V, block_size=32, n_layer=2, n_head=4, d_model=64)
    ids = torch.tensor([tok.encode("the cat sat on the mat")])
    for config, expected in [
        (GPTConfig.gpt2(**small), list(range(V))),
        (GPTConfig.llama(**small), sorted(set(ids[0, :-1].tolist()))),
    ]:
        torch.manual_seed(0)
        model = GPT(config)
        _, loss = model(ids[:, :-1], ids[:, 1:])
        loss.backward()
        assert (model.head.weight is model.tok_emb.weight) == config.tie_weights
        grad = model.tok_emb.weight.grad
        assert grad is not None
        assert rows_with_gradient(grad) == expected


# --------------------------------------------------------------- geometry
def test_cosine_similarity_and_nearest() -> None:
    torch.manual_seed(0)
    E = torch.randn(20, 6)
    sims = cosine_similarity(E, 3)
    torch.testing.assert_close(sims, F.cosine_similarity(E, E[3:4], dim=-1))
    assert sims[3].item() == pytest.approx(1.0)
    E[7] = 5 * E[3]  # same direction, different length
    top = nearest(E, 3, 4)
    assert top[0][0] == 7 and top[0][1] == pytest.approx(1.0)
    assert 3 not in [j for j, _ in top]
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)


def test_pca_2d_keeps_the_two_largest_variance_directions() -> None:
    torch.manual_seed(0)
    X = torch.randn(200, 5) * torch.tensor([5.0, 0.1, 3.0, 0.2, 0.3]) + 7.0
    xy = pca_2d(X)
    assert xy.shape == (200, 2)
    torch.testing.assert_close(xy.mean(0), torch.zeros(2), atol=1e-4, rtol=0)
    s = torch.linalg.svdvals(X - X.mean(0))
    torch.testing.assert_close(xy.pow(2).sum(0), s[:2] ** 2, rtol=1e-4, atol=1e-3)
    # the two axes are the 1st and 3rd coordinates, with a fixed sign
    assert xy[:, 0].abs().sub((X[:, 0] - X[:, 0].mean()).abs()).abs().max() < 0.5
    assert torch.equal(pca_2d(X), pca_2d(X.clone()))
    torch.testing.assert_close(pca_2d(-X), -pca_2d(X), atol=1e-4, rtol=1e-4)  # same axes


def test_group_similarity() -> None:
    E = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0]])
    within, between = group_similarity(E, {"x": [0, 1], "y": [2, 3]})
    assert within > 0.99 and between < 0.1


# ------------------------------------------------------------------ bigram
def test_bigram_counts() -> None:
    ids = torch.tensor([5, 5, 2, 5, 7, 2, 5, 9])
    top, counts = bigram_counts(ids, 2)
    assert top.tolist() == [5, 2]
    # rows: 5, 2; columns: 5, 2, other
    assert counts.tolist() == [[1, 1, 2], [2, 0, 0]]


def test_bigram_loss_is_mean_cross_entropy_over_pairs() -> None:
    torch.manual_seed(0)
    ids = torch.randint(0, 6, (300,))
    top, counts = bigram_counts(ids, 6)
    model = BigramModel(6, 7, 4)
    index = {t: r for r, t in enumerate(top.tolist())}
    a = torch.tensor([index[i] for i in ids[:-1].tolist()])
    b = torch.tensor([index[i] for i in ids[1:].tolist()])
    expected = F.cross_entropy(model(a), b)
    torch.testing.assert_close(bigram_loss(model, counts), expected)


def test_training_a_bigram_embedding_lowers_the_loss() -> None:
    torch.manual_seed(0)
    ids = torch.randint(0, 20, (2000,))
    result = train_bigram(ids, n_tokens=20, dim=8, steps=30)
    assert result.losses[0] == pytest.approx(math.log(21), abs=0.05)
    assert result.losses[-1] < result.losses[0]
    assert result.coverage == 1.0
    assert result.row(int(result.ids[3])) == 3
    with pytest.raises(KeyError):
        result.row(1000)


def test_site_bigram_page_claims(tok, bigram) -> None:
    K, dim = bigram.trained.shape
    assert (K, dim) == (1024, 32)
    assert bigram.losses[0] == pytest.approx(math.log(K + 1), abs=0.05)  # ~ uniform guess
    assert bigram.losses[-1] < bigram.losses[0] - 2.0  # it learns a lot
    assert 0.5 < bigram.coverage < 1
    groups = {g: [bigram.row(tok.encode(w)[0]) for w in words] for g, words in TOKEN_GROUPS.items()}
    for words in TOKEN_GROUPS.values():
        assert all(len(tok.encode(w)) == 1 for w in words)
    w0, b0 = group_similarity(bigram.init, groups)
    w1, b1 = group_similarity(bigram.trained, groups)
    assert abs(w0) < 0.1 and abs(b0) < 0.1  # no structure at initialisation
    assert w1 > b1 + 0.2  # clusters after training

    def neighbours(E, word, k=5):
        return [
            tok.decode([int(bigram.ids[j])])
            for j, _ in nearest(E, bigram.row(tok.encode(word)[0]), k)
        ]

    # digits next to digits, verbs next to verbs, Python nouns next to each other
    assert sum(w.strip().isdigit() for w in neighbours(bigram.trained, "5")) >= 3
    assert len(set(neighbours(bigram.trained, " is")) & {" was", " be", " are", " were"}) >= 2
    python_nouns = {
        " method",
        " class",
        " object",
        " string",
        " module",
        " file",
        " directory",
        " header",
        " type",
        " value",
        " instance",
        " attribute",
        " list",
        " dict",
    }
    assert len(python_nouns & set(neighbours(bigram.trained, " function"))) >= 3
    assert sum(w.strip().isdigit() for w in neighbours(bigram.init, "5")) <= 1
    # random neighbours are not small: the best of 1,023 random cosines in 32-D
    unit = F.normalize(bigram.init, dim=-1)
    best = (unit @ unit.T).fill_diagonal_(-1.0).max(dim=1).values.mean().item()
    assert best > 0.4
