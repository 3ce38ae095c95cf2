"""SAE feature analysis: the TopK SAE, its folder layout, paired latent statistics against
hand computations, latent ablation through the hook primitive, and whole runs on a tiny
in-process model and on SmolLM2."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch

from affect_battery._util.extras import MissingExtra
from affect_battery.analyses.hooks import Site
from affect_battery.analyses.patching import label_logits
from affect_battery.analyses.prompts import build_prompt
from affect_battery.analyses.sae.ablation import ablated_label_logits, matched_random
from affect_battery.analyses.sae.io import (
    CFG_FILENAME,
    WEIGHTS_FILENAME,
    load_sae,
    save_sae,
    site_of_hook,
)
from affect_battery.analyses.sae.stats import (
    bh,
    emotion_specific,
    paired_latent_tests,
    rank_biserial,
)
from affect_battery.analyses.sae.topk import SparseAutoencoder, new_sae
from affect_battery.analyses.sae.train import TrainConfig, fit, quality
from affect_battery.cli import main
from affect_battery.errors import UsageError

from .tiny_models import WORDS, save_tiny_llama_lm, tiny_loaded

# ---- the SAE ---------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["topk", "standard", "jumprelu"])
def test_encode_decode_shapes_and_error_term_rebuild_the_input(arch):
    torch.manual_seed(0)
    sae = new_sae(16, 64, k=4, architecture=arch, seed=1)
    sae.b_enc = torch.randn(64) * 0.1
    x = torch.randn(3, 5, 16)
    acts = sae.encode(x)
    assert acts.shape == (3, 5, 64) and sae.decode(acts).shape == x.shape
    assert (acts >= 0).all()
    if arch == "topk":
        assert ((acts > 0).sum(-1) <= 4).all() and ((acts > 0).sum(-1) >= 1).any()
    torch.testing.assert_close(sae.decode(acts) + sae.error(x), x, atol=1e-6, rtol=0)


def test_topk_keeps_the_k_largest_pre_activations():
    sae = new_sae(8, 32, k=3, seed=0)
    x = torch.randn(10, 8)
    pre, acts = sae.pre_acts(x), sae.encode(x)
    for row in range(10):
        top = set(torch.topk(pre[row], 3).indices.tolist())
        assert set(torch.nonzero(acts[row]).flatten().tolist()) <= top
        for j in top:
            assert acts[row, j] == max(0.0, float(pre[row, j]))


def test_bad_weights_are_one_line():
    with pytest.raises(UsageError, match="lack W_dec"):
        SparseAutoencoder({"W_enc": torch.zeros(4, 8), "b_enc": torch.zeros(8),
                           "b_dec": torch.zeros(4)}, "topk", 2)
    with pytest.raises(UsageError, match="0 < k"):
        new_sae(4, 8, k=9)


def test_edit_latents_moves_the_activation_by_exactly_their_decoded_contribution():
    torch.manual_seed(0)
    sae = new_sae(16, 64, k=8, seed=2)
    x = torch.randn(4, 6, 16)
    acts = sae.encode(x)
    chosen = [int(j) for j in torch.nonzero(acts[0, 0]).flatten()[:3]]
    zero = sae.edit_latents(x, chosen, 0.0)
    expected = -(acts[..., chosen] @ sae.W_dec[chosen])
    torch.testing.assert_close(zero - x, expected, atol=1e-5, rtol=0)
    assert (zero - x).abs().max() > 1e-3  # the chosen latents were active: x moved
    # the same as rebuilding without them and adding the error term back
    without = acts.clone()
    without[..., chosen] = 0
    torch.testing.assert_close(zero, sae.decode(without) + sae.error(x), atol=1e-5, rtol=0)
    means = torch.tensor([0.5, 1.0, 2.0])
    mean = sae.edit_latents(x, chosen, means)
    torch.testing.assert_close(mean - x, (means - acts[..., chosen]) @ sae.W_dec[chosen],
                               atol=1e-5, rtol=0)
    assert torch.equal(sae.edit_latents(x, [], 0.0), x)


# ---- the sae-lens folder layout -----------------------------------------------------------


def test_save_load_round_trip_in_the_sae_lens_layout(tmp_path):
    sae = new_sae(16, 48, k=5, seed=3)
    sae.b_dec = torch.randn(16)
    folder = save_sae(tmp_path / "sae", sae, Site("resid", 7), "tiny",
                      {"trained_by": "affect-battery sae-train"})
    assert {p.name for p in folder.iterdir()} == {CFG_FILENAME, WEIGHTS_FILENAME}
    cfg = json.loads((folder / CFG_FILENAME).read_text())
    for key in ("d_in", "d_sae", "dtype", "device", "apply_b_dec_to_input",
                "normalize_activations", "architecture", "k", "metadata"):
        assert key in cfg, key
    assert cfg["architecture"] == "topk" and cfg["k"] == 5 and cfg["d_sae"] == 48
    assert cfg["metadata"]["hook_name"] == "blocks.7.hook_resid_post"
    from safetensors.torch import load_file

    assert set(load_file(str(folder / WEIGHTS_FILENAME))) == {"W_enc", "b_enc", "W_dec",
                                                              "b_dec"}
    back = load_sae(str(folder))
    assert back.site == Site("resid", 7) and back.metadata["trained_by"]
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert torch.equal(getattr(back.sae, name), getattr(sae, name)), name
    x = torch.randn(5, 16)
    # equal weights, but the loaded ones may lie in memory another way, and a CPU's matrix
    # kernels may then round differently: the same latents fire, with the same values to 1e-5
    a, b = back.sae.encode(x), sae.encode(x)
    assert torch.equal(a != 0, b != 0)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_hook_names_map_to_sites():
    assert site_of_hook("blocks.12.hook_resid_post") == Site("resid", 12)
    assert site_of_hook("blocks.12.hook_resid_pre") == Site("resid", 11)
    assert site_of_hook("blocks.3.hook_mlp_out") == Site("mlp", 3)
    assert site_of_hook("blocks.3.hook_attn_out") == Site("attn", 3)
    assert site_of_hook("blocks.3.mlp") == Site("mlp", 3)
    with pytest.raises(UsageError, match="embeddings"):
        site_of_hook("blocks.0.hook_resid_pre")
    with pytest.raises(UsageError, match="malformed site"):
        site_of_hook("blocks.3.hook_z")


def test_unusable_sae_folders_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"no cfg\.json"):
        load_sae(str(tmp_path / "empty"))
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="a file, not a folder"):
        load_sae(str(tmp_path / "f"))
    with pytest.raises(UsageError, match="not a sae-lens RELEASE/ID"):
        load_sae("no-such-thing")


def test_a_release_without_the_sae_extra_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "sae_lens", None)  # as if the extra were not installed
    spec = "gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical"
    with pytest.raises(MissingExtra) as err:
        load_sae(spec)
    assert "pip install 'affect-battery[sae]'" in str(err.value)
    # the CLI refuses before any model is loaded ("m" is no model at all)
    assert main(["analyze", "--model", "m", "--methods", "sae", "--sae", spec,
                 "--out", str(tmp_path / "o")]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and "affect-battery[sae]" in err_lines[0]


def test_methods_sae_without_an_sae_is_one_line(tmp_path, capsys):
    assert main(["analyze", "--model", "m", "--methods", "sae",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--methods sae needs --sae" in capsys.readouterr().err


def test_a_subword_token_reads_as_its_whole_word():
    from affect_battery.analyses.sae.tokens import _word

    text = "the line broke, furiously."
    assert _word(text, 3, 8) == "line"  # " line": the leading space is not the previous word
    assert _word(text, 15, 19) == "furiously"  # " fur" of " furiously"
    assert _word(text, 14, 15) == ""  # the comma alone


# ---- paired statistics against hand computations --------------------------------------------


def _normal_p(w_plus: float, n: int, ties: list[int]) -> float:
    """Two-sided p of the signed-rank statistic's normal approximation, by hand."""
    mean = n * (n + 1) / 4
    var = n * (n + 1) * (2 * n + 1) / 24 - sum(t ** 3 - t for t in ties) / 48
    z = (w_plus - mean) / math.sqrt(var)
    return math.erfc(abs(z) / math.sqrt(2))


def test_paired_latent_statistics_match_a_hand_computation():
    # latent 0: d = 2, -1, 3, 0, 4, 0 -> non-zero |d| ranks 2, 1, 3, 4: W+ = 9, W- = 1
    # latent 1: d = 1, 1, -2, 3, 0, 0 -> ranks 1.5, 1.5, 3, 4: W+ = 7, W- = 3 (one tie of 2)
    # latent 2: silent on every item
    upper = np.array([[3, 1, 0], [1, 2, 0], [4, 0, 0], [2, 5, 0], [5, 0, 0], [0, 0, 0]], float)
    lower = np.array([[1, 0, 0], [2, 1, 0], [1, 2, 0], [2, 2, 0], [1, 0, 0], [0, 0, 0]], float)
    t = paired_latent_tests(upper, lower)
    assert list(t["n_nonzero"]) == [4, 4, 0]
    assert list(t["w_plus"]) == [9, 7, 0] and list(t["w_minus"]) == [1, 3, 0]
    assert t["rank_biserial"].tolist() == pytest.approx([0.8, 0.4, 0.0])
    p0, p1 = _normal_p(9, 4, []), _normal_p(7, 4, [2])
    assert t["p"].tolist() == pytest.approx([p0, p1, 1.0], rel=1e-9)
    assert t["mean_diff"].tolist() == pytest.approx([8 / 6, 3 / 6, 0])
    # Benjamini-Hochberg by hand over the three p-values
    ps = sorted([(p0, 0), (p1, 1), (1.0, 2)])
    q = [0.0] * 3
    running = 1.0
    for rank in range(3, 0, -1):
        p, j = ps[rank - 1]
        running = min(running, p * 3 / rank)
        q[j] = running
    assert t["q"].tolist() == pytest.approx(q, rel=1e-9)


def test_bh_by_hand():
    assert bh(np.array([0.01, 0.04, 0.03, 0.2])).tolist() == pytest.approx(
        [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])


def test_rank_biserial_is_plus_one_when_every_pair_rises():
    d = np.array([[1.0, -1.0], [2.0, -3.0], [0.5, 0.0]])
    w_plus, w_minus, r = rank_biserial(d)
    assert r.tolist() == [1.0, -1.0] and w_minus[0] == 0 and w_plus[1] == 0


def test_emotion_specific_latents():
    emos = ["joy", "joy", "fear", "fear"]
    diff = np.array([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [0.0, 1.0, 1.0]])
    spec = emotion_specific(diff, emos, top=2)
    assert [e["latent"] for e in spec["joy"]] == [0]  # latent 1 rises for both: not specific
    assert [e["latent"] for e in spec["fear"]] == [2]
    assert spec["fear"][0]["specificity"] == pytest.approx(2.0)


# ---- ablation through the hook primitive -----------------------------------------------------


def _tiny_prompts(n: int = 6) -> list:
    return [build_prompt(" ".join(WORDS[i:i + 7 + i % 3]), "raw") for i in range(n)]


def test_ablating_no_latents_reproduces_the_baseline_logits_exactly():
    loaded = tiny_loaded("llama")
    prompts = _tiny_prompts()
    labels = [5, 6, 7, 8]
    sae = new_sae(64, 128, k=8, seed=0)
    base = label_logits(loaded, prompts, labels, batch_size=4)
    none = ablated_label_logits(loaded, prompts, sae, Site("resid", 0), [], 0.0, labels, 4)
    assert np.array_equal(base, none)
    # and ablating latents that fire does change them (through the hook, at that site)
    fired = sae.encode(torch.randn(64, 64)).gt(0).any(0).nonzero().flatten()[:16].tolist()
    edited = ablated_label_logits(loaded, prompts, sae, Site("resid", 0), fired, 0.0, labels, 4)
    assert not np.allclose(edited, base, atol=1e-6)


def test_matched_random_latents_skip_the_top_and_silent_ones():
    freq = np.array([0.5, 0.4, 0.0, 0.3, 0.1, 0.45, 0.0, 0.2])
    sets = matched_random([0, 1], freq, seed=0, draws=4, pool=2)
    assert len(sets) == 4
    for s in sets:
        assert len(s) == 2 and not {0, 1, 2, 6} & set(s)
    assert sets == matched_random([0, 1], freq, seed=0, draws=4, pool=2)


# ---- training ----------------------------------------------------------------------------------


def test_training_reduces_error_and_reports_quality():
    rng = np.random.default_rng(0)
    dictionary = rng.normal(size=(40, 16))
    codes = (rng.random((3000, 40)) < 0.08) * rng.random((3000, 40)) * 3
    x = (codes @ dictionary).astype(np.float32)
    cfg = TrainConfig(d_sae=64, k=4, steps=400, batch_size=256, lr=3e-3, seed=0)
    sae, report = fit(x, cfg)
    assert report["n_held_out_tokens"] == 150 and report["n_train_tokens"] == 2850
    ev = report["held_out"]["explained_variance"]
    assert 0.5 < ev <= 1.0
    assert 0 <= report["train"]["dead_fraction"] < 1 and report["train"]["mean_l0"] <= 4
    assert report["loss_every_100_steps"][-1] < report["loss_every_100_steps"][0]
    init = new_sae(16, 64, k=4, seed=0)
    init.b_dec = torch.from_numpy(x.mean(0))
    assert quality(init, x).explained_variance < ev
    again, _ = fit(x, cfg)  # the seed fixes everything
    assert torch.equal(again.W_dec, sae.W_dec)


# ---- whole runs ----------------------------------------------------------------------------


def test_sae_train_then_analyze_on_a_tiny_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AFFECT_BATTERY_CACHE", str(tmp_path / "cache"))
    model = save_tiny_llama_lm(tmp_path / "model")
    sae_dir = tmp_path / "sae"
    assert main(["sae-train", "--model", str(model), "--out", str(sae_dir), "--hook",
                 "blocks.1", "--d-sae", "96", "--k", "8", "--steps", "60", "--batch-size",
                 "128", "--max-texts", "24"]) == 0
    printed = capsys.readouterr().out
    assert "explained variance" in printed and "dead latents" in printed
    assert "not a research-grade" in printed
    meta = json.loads((sae_dir / CFG_FILENAME).read_text())["metadata"]
    assert meta["hook_name"] == "blocks.1.hook_resid_post"
    assert meta["training"]["corpus"]["battery_items"] == 24
    out = tmp_path / "run"
    assert main(["analyze", "--model", str(model), "--methods", "sae", "--sae", str(sae_dir),
                 "--max-items", "40", "--no-cache", "--sae-items", "4",
                 "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    s = r["sae"]
    assert s["sae"]["site"] == "blocks.1" and s["sae"]["d_sae"] == 96
    assert "demonstration" in s["sae"]["note"]
    for pos in ("final", "mean"):
        b = s["by_position"][pos]
        assert b["n_pairs"] >= 5 and b["clinical_above_neutral"] >= 0
        assert b["of_them_keyword_rich_above_clinical"] <= b["clinical_above_neutral"]
    assert set(s["emotion_specific"]) == {"final", "mean"}
    table = (out / "sae_latents.csv").read_text().splitlines()
    assert table[0].startswith("contrast,position,latent,n_pairs")
    assert {line.split(",")[0] for line in table[1:]} >= {"clinical_vs_neutral",
                                                          "keyword_vs_clinical"}
    assert (out / "sae_latents.png").is_file()
    md = (out / "report.md").read_text()
    assert "## Sparse-autoencoder features" in md and "demonstration" in md
    assert r["headline"]["sae_latents_clinical_above_neutral"] == \
        s["by_position"]["mean"]["clinical_above_neutral"]


@pytest.mark.slow
def test_sae_on_smollm2_end_to_end(tmp_path, monkeypatch):
    """A very small SAE on a subset of SmolLM2's middle layer, then the whole step."""
    from affect_battery.analyses.models import load_model
    from affect_battery.analyses.sae.train import corpus_activations
    from affect_battery.analyses.suite import AnalyzeConfig, run_suite
    from affect_battery.core.battery import battery_frame

    loaded = load_model("smollm2-135m")
    site = Site("resid", 15)
    x, corpus = corpus_activations(loaded, site, battery_frame(), max_texts=24)
    assert corpus["battery_tokens"] > 24 * 50 and x.shape[1] == 576
    sae, report = fit(x, TrainConfig(d_sae=1152, k=16, steps=150, batch_size=256, seed=0))
    assert 0.3 < report["held_out"]["explained_variance"] <= 1
    folder = save_sae(tmp_path / "sae", sae, site, "smollm2-135m",
                      {"trained_by": "affect-battery sae-train", "training": report})
    r = run_suite(AnalyzeConfig(model="smollm2-135m", out=str(tmp_path / "run"),
                                methods=("sae",), layers=[15], max_items=24, sae=str(folder),
                                sae_top_k=4, sae_items=6, use_cache=False))
    s = r["sae"]
    assert s["sae"]["site"] == "blocks.15"
    assert s["by_position"]["mean"]["n_pairs"] >= 10
    a = s["ablation"]
    if "note" not in a:  # separating latents found: the causal check ran against controls
        assert a["n_items"] == 6 and a["k"] <= 4 and a["random_draws"] == 3
        assert {"affect_ld_change", "random_ld_change_mean"} <= set(a["zero"])
    assert (tmp_path / "run" / "sae_latents.csv").is_file()
