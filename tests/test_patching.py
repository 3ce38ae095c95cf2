"""Patching invariants on tiny models: self-patching is a no-op; attribution is exact when the
patched path is linear."""

from __future__ import annotations

import numpy as np
import torch

from affect_battery.analyses.capture import capture
from affect_battery.analyses.patching import (
    PatchPairs,
    attribution_patching,
    exact_patching,
    label_logits,
)
from affect_battery.analyses.prompts import build_prompt

from .tiny_models import tiny_loaded

SRC = ["the letter was on the table", "she had a phone in the car", "the dog was in the house"]
TGT = ["they were at the door with water", "a box was on the road", "he had the car"]
LABELS = [5, 6, 7, 8]  # token ids used as "answer labels" in the tiny vocabulary


def _pairs(src, tgt):
    return PatchPairs("t", [f"s{i}" for i in range(len(src))], [f"t{i}" for i in range(len(tgt))],
                      [build_prompt(t, "raw") for t in src], [build_prompt(t, "raw") for t in tgt],
                      np.array([0, 1, 2]), np.array([3, 3, 3]))


def test_patching_an_activation_into_its_own_run_changes_nothing():
    loaded = tiny_loaded("llama")
    pairs = _pairs(TGT, TGT)  # source == target
    sites = [(k, i) for k in ("resid", "attn", "mlp") for i in range(2)]
    acts = capture(loaded, pairs.sources, sites)
    src_acts = {s: acts.get(*s) for s in sites}
    res = exact_patching(loaded, pairs, sites, src_acts, LABELS)
    for site, r in res.sites.items():
        np.testing.assert_allclose(r.effect, 0.0, atol=1e-5, err_msg=str(site))


def test_exact_and_attribution_agree_on_a_linear_path():
    loaded = tiny_loaded("llama")
    loaded.model.model.norm = torch.nn.Identity()  # logits become linear in the last MLP output
    pairs = _pairs(SRC, TGT)
    site = ("mlp", 1)
    acts = capture(loaded, pairs.sources, [site])
    src_acts = {site: acts.get(*site)}
    exact = exact_patching(loaded, pairs, [site], src_acts, LABELS).sites[site].effect
    attr = attribution_patching(loaded, pairs, [site], src_acts, LABELS)[site]
    np.testing.assert_allclose(attr, exact, rtol=1e-4, atol=1e-5)
    assert np.abs(exact).max() > 1e-4  # the test would be vacuous with zero effects


def test_patched_logits_move_towards_source():
    loaded = tiny_loaded("gpt2")
    pairs = _pairs(SRC, TGT)
    n = loaded.n_layers
    site = ("resid", n - 1)
    acts = capture(loaded, pairs.sources, [site])
    # patching the last block's output at the final token reproduces the source's logits
    patched = label_logits(loaded, pairs.targets, LABELS, site, acts.get(*site))
    source = label_logits(loaded, pairs.sources, LABELS)
    np.testing.assert_allclose(patched, source, atol=1e-4)


def test_cached_prefix_patching_equals_full_recompute():
    for arch in ("llama", "gpt2"):
        loaded = tiny_loaded(arch)
        pairs = _pairs(SRC, TGT)
        sites = [(k, i) for k in ("resid", "attn", "mlp") for i in range(2)]
        acts = capture(loaded, pairs.sources, sites)
        src_acts = {s: acts.get(*s) for s in sites}
        full = exact_patching(loaded, pairs, sites, src_acts, LABELS, mode="full")
        cached = exact_patching(loaded, pairs, sites, src_acts, LABELS, mode="cached")
        for site in sites:
            np.testing.assert_allclose(cached.sites[site].ld, full.sites[site].ld,
                                       atol=1e-4, err_msg=f"{arch} {site}")
