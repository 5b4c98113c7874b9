"""docs/generating-text/sampling.md: the text metrics, the per-distribution helpers,
the decoding sweep on a tiny model, the playground's data and HTML, and (slow, on the
site model) the claims the page makes about the numbers it prints."""

from __future__ import annotations

import json
import math
import random
import re
from html import unescape

import pytest
import torch
import torch.nn.functional as F

from groundup.inference import SamplingSettings, generate
from groundup.model import GPT, GPTConfig
from groundup.pages.generating_text.sampling import decoding as sp
from groundup.pages.generating_text.sampling import playground as pg
from groundup.site import load_site_model, site_tokenizer


def tiny_gpt(vocab: int = 64, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=vocab, block_size=64, n_layer=1, n_head=2, d_model=16)
    return GPT(config).eval()


# ------------------------------------------------------------ metrics
def test_distinct_n_counts_different_ngrams() -> None:
    assert sp.distinct_n([1, 2, 3, 4], 1) == 1.0
    assert sp.distinct_n([5, 5, 5, 5], 1) == 0.25
    assert sp.distinct_n([1, 2, 1, 2, 1], 2) == 2 / 4  # (1,2) (2,1) (1,2) (2,1)
    assert sp.distinct_n([1, 2, 3, 1, 2, 3], 3) == 3 / 4


def test_repeated_share_is_one_minus_distinct() -> None:
    loop = [7, 8, 9] * 5
    assert sp.repeated_share(loop, 4) == pytest.approx(1 - 3 / 12)
    assert sp.repeated_share(list(range(20)), 4) == 0.0
    ids = [random.Random(1).randrange(3) for _ in range(40)]
    assert sp.repeated_share(ids, 4) == pytest.approx(1 - sp.distinct_n(ids, 4))


def test_continuation_nll_is_the_mean_log_loss_of_the_new_tokens() -> None:
    model = tiny_gpt()
    ids = torch.randint(0, 64, (3, 12), generator=torch.Generator().manual_seed(0))
    got = sp.continuation_nll(model, ids, start=5)
    with torch.no_grad():
        logp = model(ids)[0].log_softmax(-1)  # (3, 12, V)
    direct = [-sum(logp[b, t - 1, ids[b, t]] for t in range(5, 12)) / 7 for b in range(3)]
    assert got.shape == (3,)
    assert got.tolist() == pytest.approx([float(d) for d in direct], rel=1e-5)
    total = sp.sequence_logprob(model, ids, 5)
    assert total.tolist() == pytest.approx((-got * 7).tolist())


def test_text_stats_measure_each_row_of_the_new_tokens() -> None:
    model = tiny_gpt()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    ids = torch.cat([prompt, torch.tensor([[9, 9, 9, 9, 9], [1, 2, 3, 4, 5]])], 1)
    s = sp.text_stats(model, ids, 3)
    assert s.distinct_1 == pytest.approx((1 / 5 + 1) / 2)
    assert s.repeated_4 == pytest.approx((1 - 1 / 2 + 0) / 2)
    assert s.sample == [9, 9, 9, 9, 9]
    assert s.nll == pytest.approx(float(sp.continuation_nll(model, ids, 3).mean()))


# ------------------------------------------------------------ one distribution
def test_kept_counts_and_mass_come_from_process() -> None:
    logits = torch.tensor([3.0, 2.0, 2.0, 0.0, -1.0])
    k = sp.kept(logits, SamplingSettings(top_k=2))  # the tie with the 2nd stays
    assert k.count == 3
    p = logits.softmax(-1)
    assert k.mass == pytest.approx(float(p[:3].sum()))
    q = p[:3] / p[:3].sum()
    assert k.entropy == pytest.approx(float(-(q * q.log()).sum()))
    uniform = sp.kept(torch.zeros(8), SamplingSettings(temperature=0.5))
    assert (uniform.count, uniform.mass) == (8, pytest.approx(1.0))
    assert uniform.entropy == pytest.approx(math.log(8))


def test_top_rows_orders_by_the_first_setting() -> None:
    logits = torch.tensor([0.0, 2.0, 1.0, -3.0])
    rows = sp.top_rows(logits, [SamplingSettings(), SamplingSettings(top_k=1)], 3)
    assert [i for i, _ in rows] == [1, 2, 0]
    assert rows[0][1][1] == 1.0 and rows[1][1][1] == 0.0
    assert sum(p[0] for _, p in rows) == pytest.approx(float(logits.softmax(-1)[:3].sum()))


def test_the_repetition_penalty_lowers_only_seen_tokens() -> None:
    logits = torch.tensor([2.0, 1.5, 1.0, 0.5])
    seen = torch.tensor([0, 0, 3])
    after = SamplingSettings(repetition_penalty=2.0).process(logits[None], seen[None])[0]
    assert after.tolist() == [1.0, 1.5, 1.0, 0.25]  # seen: 0 and 3, once however often
    probs = sp.processed_probs(logits, SamplingSettings(repetition_penalty=2.0), seen)
    assert probs.tolist() == pytest.approx(after.softmax(-1).tolist())
    negative = torch.tensor([-1.0, 1.0])  # a negative logit is multiplied, not divided
    got = sp.processed_probs(negative, SamplingSettings(repetition_penalty=2.0), seen[:1])
    assert got.tolist() == pytest.approx(torch.tensor([-2.0, 1.0]).softmax(-1).tolist())


# ------------------------------------------------------------ decoding sweep (tiny model)
def test_measure_decodings_runs_every_decoding_on_the_windows() -> None:
    model = tiny_gpt()
    windows = torch.randint(0, 64, (3, 20), generator=torch.Generator().manual_seed(2))
    got = sp.measure_decodings(model, windows, prompt_len=8, seed=0)
    names = ["held-out text", *(f"T = {t:g}" for t in sp.TEMPERATURES), *sp.OTHERS]
    assert list(got) == names
    greedy = generate(model, windows[:, :8], 12)
    assert got["T = 0"]["sample"] == greedy[0, 8:].tolist()
    assert got["held-out text"]["sample"] == windows[0, 8:].tolist()
    for s in got.values():
        assert 0 < s["distinct_1"] <= 1 and 0 <= s["repeated_4"] < 1 and s["nll"] > 0


def test_beam_widths_reports_score_and_repetition_per_width() -> None:
    model = tiny_gpt()
    prompts = torch.randint(0, 64, (2, 5), generator=torch.Generator().manual_seed(3))
    got = sp.beam_widths(model, prompts, 6, [1, 3])
    greedy = generate(model, prompts, 6)
    assert got[1][0] == pytest.approx(float(sp.sequence_logprob(model, greedy, 5).mean()))
    assert got[3][0] >= got[1][0] - 1e-4  # a wider beam never finds a worse sequence here
    assert all(0 <= rep <= 1 for _, rep in got.values())


def test_heldout_windows_are_slices_of_the_heldout_tokens() -> None:
    w = sp.heldout_windows(4, 8, 16)
    assert w.shape == (4, 24) and w.dtype == torch.int64
    assert int(w.max()) < site_tokenizer().vocab_size


# ------------------------------------------------------------ the playground's data
def test_token_label_shows_whitespace() -> None:
    assert pg.token_label(" x\n\t") == "·x⏎→"
    assert pg.token_label("") == "(empty)"


def test_playground_entry_ships_every_logit_shifted_and_rounded() -> None:
    tok = site_tokenizer()
    model = tiny_gpt(vocab=tok.vocab_size)
    entry = pg.playground_entry(model, tok, "def f(x", view=5)
    raw = pg.next_token_logits(model, tok, "def f(x")
    shipped = torch.tensor(entry["logits"])
    assert shipped.shape == (tok.vocab_size,)
    assert shipped.max() == 0
    assert (shipped - (raw - raw.max())).abs().max() <= 0.5 * 10**-pg.DECIMALS + 1e-6
    assert all(round(x, pg.DECIMALS) == x for x in entry["logits"])
    assert entry["top"] == torch.topk(shipped, 5).indices.tolist()
    assert entry["labels"] == [pg.token_label(tok.decode([i])) for i in entry["top"]]


def test_playground_html_embeds_the_data_safely() -> None:
    data = {
        "vocab_size": 3,
        "view": 2,
        "prompts": [
            {
                "prompt": "a</script>",
                "logits": [0.0, -1.0, -2.0],
                "top": [0, 1],
                "labels": ["<", "b"],
            }
        ],
    }
    html = pg.playground_html(data)
    attribute = re.search(r'data-playground="([^"]*)"', html)
    assert attribute is not None
    assert "<" not in attribute.group(1)  # escaped: no token can end the attribute or tag
    assert json.loads(unescape(attribute.group(1))) == data
    assert "<script" not in html  # instant navigation would run it as JavaScript
    assert html.count("<option") == 1
    for s in pg.SLIDERS:  # every control has its label
        assert f'<label for="gu-pg-{s.name}">' in html and f'id="gu-pg-{s.name}"' in html
    assert '<label for="gu-pg-prompt">' in html


@pytest.fixture(scope="module")
def site_data() -> dict:
    sm = load_site_model()
    return pg.playground_data(sm.model, sm.tokenizer)


def test_the_view_is_the_top_of_distinct_logits(site_data: dict) -> None:
    """The 21 largest shipped logits of every prompt differ, so the 20 bars are well
    defined and no exact tie inside them makes the kept marks depend on sort order."""
    assert len(site_data["prompts"]) == len(pg.PROMPTS)
    for entry in site_data["prompts"]:
        top = sorted(entry["logits"], reverse=True)[: pg.VIEW + 1]
        assert len(set(top)) == pg.VIEW + 1, entry["prompt"]
        assert [entry["logits"][i] for i in entry["top"]] == top[: pg.VIEW]


def slider_settings(rng: random.Random) -> tuple[float, int | None, float]:
    t = round(rng.choice([0.1 + 0.05 * i for i in range(39)]), 2)
    k = rng.choice([None, *range(1, int(pg.TOP_K.high))])
    p = rng.choice([1.0, *(round(0.05 + 0.01 * i, 2) for i in range(95))])
    return t, k, p


def test_float64_keeps_what_float32_keeps_at_slider_settings(site_data: dict) -> None:
    """The browser computes in float64, PyTorch here in float32: at every sampled slider
    position the kept sets agree, so no setting sits on a rounding knife-edge."""
    rng = random.Random(0)
    for n in range(len(site_data["prompts"])):
        x32 = pg.shipped_logits(site_data, n)
        for _ in range(60):
            t, k, p = slider_settings(rng)
            s = SamplingSettings(temperature=t, top_k=k, top_p=p)
            keep32 = torch.isfinite(s.process(x32))
            keep64 = torch.isfinite(s.process(x32.double()))
            assert torch.equal(keep32, keep64), (n, t, k, p)


def test_some_prompt_has_a_top_k_tie_in_reach_of_the_slider(site_data: dict) -> None:
    """The browser test sets top-k at such a tie: more than k ids must stay."""
    found = tie_positions(site_data)
    assert found
    n, k = found[0]
    kept = torch.isfinite(SamplingSettings(top_k=k).process(pg.shipped_logits(site_data, n)))
    assert int(kept.sum()) > k


def tie_positions(data: dict) -> list[tuple[int, int]]:
    """(prompt, k) pairs where the k-th and (k+1)-th shipped logits are equal, k on the slider."""
    out = []
    for n, entry in enumerate(data["prompts"]):
        s = sorted(entry["logits"], reverse=True)
        out += [(n, k) for k in range(1, int(pg.TOP_K.high)) if s[k - 1] == s[k]]
    return out


# ------------------------------------------------------------ the page's claims (site model)
@pytest.mark.slow
def test_the_sweep_supports_what_the_page_says() -> None:
    sweep = sp.decoding_sweep()
    real, greedy = sweep["held-out text"], sweep["T = 0"]
    by_t = [sweep[f"T = {t:g}"] for t in sp.TEMPERATURES]
    # greedy loops; the real text barely repeats; the penalty cuts greedy's repetition
    assert greedy.repeated_4 > 5 * real.repeated_4
    assert sweep["greedy, repetition penalty 1.3"].repeated_4 < greedy.repeated_4
    # diversity rises and likelihood falls with temperature
    nll = [s.nll for s in by_t]
    assert nll == sorted(nll)
    assert [s.distinct_1 for s in by_t] == sorted(s.distinct_1 for s in by_t)
    # low temperatures are far likelier than real text; T = 1 is close to it; above, less likely
    assert greedy.nll < real.nll - 1
    assert abs(sweep["T = 1"].nll - real.nll) < 0.5
    assert sweep["T = 1.25"].nll > real.nll
    # top-k 40 and min-p 0.1 land between T = 0.5 and T = 1
    for name in ("top-k 40, T = 1", "min-p 0.1, T = 1"):
        assert sweep["T = 0.5"].nll < sweep[name].nll < sweep["T = 1"].nll
        assert sweep["T = 0.5"].distinct_1 < sweep[name].distinct_1 < sweep["T = 1"].distinct_1
    # real code's diversity is nearer T = 0.75 than T = 1
    d = real.distinct_1
    assert abs(sweep["T = 0.75"].distinct_1 - d) < abs(sweep["T = 1"].distinct_1 - d)
    # beam search: the likeliest texts of all, still far more repetitive than real text
    beam = sweep["beam search, 4 beams"]
    assert beam.nll == min(s.nll for s in sweep.values())
    assert beam.repeated_4 > 5 * real.repeated_4


@pytest.mark.slow
def test_wider_beams_score_higher_and_loop_less() -> None:
    beams = sp.beam_sweep()
    widths = sorted(beams)
    scores = [beams[w][0] for w in widths]
    assert widths == [1, 2, 4, 8] and scores == sorted(scores)
    assert beams[8][1] < beams[1][1]


def test_the_filters_claims_on_the_site_model() -> None:
    sm = load_site_model()
    logits = {p: pg.next_token_logits(sm.model, sm.tokenizer, p) for p in pg.PROMPTS}
    sure, flat = "def __init__(self", "        return"
    k40 = SamplingSettings(top_k=40)
    top2 = sp.kept(logits[sure], SamplingSettings(top_k=2)).mass
    assert top2 > 0.8 and sp.kept(logits[sure], k40).mass - top2 < 0.15  # 38 long shots
    assert sp.kept(logits[flat], k40).mass < 0.75
    for s in (SamplingSettings(top_p=0.9), SamplingSettings(min_p=0.1)):
        assert sp.kept(logits[sure], s).count < sp.kept(logits[flat], s).count
    # the temperature table: entropy grows with T, towards log V
    ent = [sp.kept(logits[flat], SamplingSettings(temperature=t)).entropy for t in (0.25, 1, 2)]
    assert ent == sorted(ent) and ent[-1] < math.log(sm.model.config.vocab_size)


def test_penalised_loop_token_drops() -> None:
    """The page's table: in the greedy loop, the penalty lowers the seen favourite."""
    sm = load_site_model()
    window = sp.heldout_windows(16, 32, 96)[0, :32]
    out = generate(sm.model, window, 48)[0]  # the greedy text, 48 tokens on
    with torch.no_grad():
        logits = sm.model(out[None])[0][0, -1]
    pen = SamplingSettings(temperature=1.0, repetition_penalty=1.3)
    rows = sp.top_rows(logits, [SamplingSettings(), pen], 5, ids=out)
    top_id, (p, q) = rows[0]
    assert top_id in set(out.tolist()) and q < p
    assert F.softmax(logits, -1)[top_id].item() == pytest.approx(p, rel=1e-5)
