"""Steering leaves the model untouched at strength 0; geometry and knockout basics."""

from __future__ import annotations

import numpy as np
import torch

from affect_battery.analyses.capture import capture
from affect_battery.analyses.geometry import cosine_matrix, rsa, silhouettes, wheel_rdm
from affect_battery.analyses.knockout import ablated_run, critical_layers, site_means
from affect_battery.analyses.prompts import build_prompt
from affect_battery.analyses.steering import direction, steered_logits

from .tiny_models import tiny_loaded

TEXTS = ["the letter was on the table", "she had a phone in the car", "the dog was in the house",
         "they were at the door with water"]


def test_zero_strength_reproduces_baseline_logits_exactly():
    loaded = tiny_loaded("llama")
    prompts = [build_prompt(t, "two_shot") for t in TEXTS]
    enc = loaded.tokenizer([p.text for p in prompts], padding=True, return_tensors="pt")
    with torch.inference_mode():
        logits = loaded.model(**enc).logits
    last = enc["attention_mask"].sum(1) - 1
    base = logits[torch.arange(4), last][:, [5, 6, 7]].numpy()
    vec = np.ones(64, np.float32)
    steered0 = steered_logits(loaded, prompts, 0, vec, 0.0, [5, 6, 7])
    np.testing.assert_array_equal(steered0, base)
    steered = steered_logits(loaded, prompts, 0, vec, 3.0, [5, 6, 7])
    assert np.abs(steered - base).max() > 1e-3


def test_direction_is_unit_difference_of_means():
    c = np.array([[2.0, 0.0], [4.0, 0.0]])
    n = np.zeros((2, 2))
    np.testing.assert_allclose(direction(c, n), [1.0, 0.0])


def test_wheel_rdm_and_rsa():
    w = wheel_rdm()
    assert w[0, 1] == 1 and w[0, 4] == 4 and w[0, 7] == 1 and (w == w.T).all()
    res = rsa(w + 0.01 * np.random.default_rng(0).normal(size=w.shape), w, n_permutations=500)
    assert res["rho"] > 0.9 and res["p_value"] < 0.01
    np.testing.assert_allclose(np.diag(cosine_matrix(np.eye(3))), 1.0)


def test_silhouette_prefers_the_true_grouping():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    x = rng.normal(size=(40, 8)) * 0.1
    x[np.arange(40), labels] += 1
    s = silhouettes(x, {"true": labels, "random": rng.permutation(labels)}, n_permutations=50)
    assert s["true"]["silhouette"] > 0.5 > s["random"]["silhouette"]
    assert s["true"]["p_value"] < 0.05


def test_knockout_zero_and_mean_ablations_change_outputs():
    loaded = tiny_loaded("gpt2")
    prompts = [build_prompt(t, "raw") for t in TEXTS]
    means = site_means(loaded, prompts, [("mlp", 0)])
    clean = capture(loaded, prompts, [("resid", 1)]).get("resid", 1)
    for method in ("zero", "mean", "resample"):
        logits, read = ablated_run(loaded, prompts, ("mlp", 0), method, [5, 6],
                                   readout=("resid", 1), mean=means[("mlp", 0)])
        assert logits.shape == (4, 2) and read.shape == clean.shape
        assert not np.allclose(read, clean)
    assert critical_layers({0: 0.5, 1: -0.2, 2: 1.0}, top=2) == [2, 0]
