"""The suite on the real embedded models, on small subsets (CI time stays bounded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from affect_battery.analyses.capture import capture
from affect_battery.analyses.inputs import last_token_index
from affect_battery.analyses.models import ModelError, load_model
from affect_battery.analyses.prompts import build_prompt, label_token_ids
from affect_battery.analyses.suite import AnalyzeConfig, run_suite
from affect_battery.cli import main
from affect_battery.errors import UsageError


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ab-cache")


@pytest.fixture(scope="session")
def smollm(model_cache, monkeypatch_session):
    monkeypatch_session.setenv("AFFECT_BATTERY_CACHE", str(model_cache))
    return load_model("smollm2-135m")


@pytest.fixture(scope="session")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_smollm2_alias_loads_offline_and_hooks_match_hidden_states(smollm):
    assert smollm.kind == "causal" and smollm.n_layers == 30
    assert smollm.model.config.hidden_size == 576
    ids = label_token_ids(smollm.tokenizer)
    assert len(set(ids.values())) == 9
    prompts = [build_prompt("Ana put the kettle on and read the letter twice.", "two_shot"),
               build_prompt("The ferry left the harbour at noon.", "two_shot")]
    res = capture(smollm, prompts, [("resid", 3), ("resid", 17)])
    enc = smollm.tokenizer([p.text for p in prompts], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hs = smollm.model(**enc, output_hidden_states=True).hidden_states
    last = last_token_index(enc["attention_mask"])
    rows = torch.arange(2)
    for layer in (3, 17):
        np.testing.assert_allclose(res.get("resid", layer), hs[layer + 1][rows, last].numpy(),
                                   atol=1e-4, rtol=1e-4)


def test_suite_on_smollm2_subset_is_complete_and_deterministic(smollm, tmp_path, model_cache):
    def run(out: Path, methods: tuple[str, ...]) -> dict:
        return run_suite(AnalyzeConfig(
            model="smollm2-135m", out=str(out), layers=[0, 29], max_items=10, patch_pairs=2,
            knockout_items=1, knockout_methods=("zero", "mean", "resample"), n_permutations=3,
            steering_strengths=(0.0, 1.0), steering_items=2, use_cache=True, methods=methods))
    first = run(tmp_path / "a", ("probing", "patching", "attribution", "knockout", "geometry",
                                 "steering"))
    second = run(tmp_path / "b", ("probing", "geometry"))  # served from the activation cache
    assert second["activation_cache_hit"] is True
    for key in ("probing", "patching", "knockout", "geometry", "steering", "behaviour"):
        assert key in first, key
    for key in ("probing", "geometry", "behaviour", "battery", "model"):
        assert json.dumps(first[key], sort_keys=True, default=str) == json.dumps(
            second[key], sort_keys=True, default=str), key
    pa = first["patching"]
    assert set(pa["pair_types"]) == {"clinical_to_neutral", "within_clinical",
                                     "keyword_rich_to_clinical"}
    assert pa["attribution_vs_exact_overall"]["pearson"] > 0.5
    out = tmp_path / "a"
    for name in ("results.json", "report.md", "probing_by_layer.csv", "patching_sites.csv",
                 "knockout.csv", "steering.csv", "probing_by_layer.png", "patching.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "results.json").read_text())
    assert saved["schema_version"] == 1 and saved["headline"]["binary_best_layer"] in (0, 29)
    paired = saved["probing"]["binary"]["paired"]  # compared across both runs above
    assert paired["n_pairs"] == 5 and saved["headline"]["binary_pair_layer"] in (0, 29)
    assert "Within matched pairs" in (out / "report.md").read_text()


def test_minilm_encoder_runs_probing_geometry_and_knockout(tmp_path, model_cache,
                                                           monkeypatch):
    monkeypatch.setenv("AFFECT_BATTERY_CACHE", str(model_cache))
    res = run_suite(AnalyzeConfig(model="minilm", out=str(tmp_path / "m"), max_items=24,
                                  knockout_items=2, knockout_methods=("zero",),
                                  n_permutations=3, use_cache=False))
    assert res["model"]["kind"] == "encoder" and res["prompt_preset"] == "raw"
    assert "binary" in res["probing"] and "knockout" in res
    assert set(res["skipped"]) == {"attribution", "patching", "steering"}
    with pytest.raises(UsageError, match=r"layers \[6\] out of range: the model has 6 layers"):
        run_suite(AnalyzeConfig(model="minilm", out=str(tmp_path / "n"), layers=[0, 6]))


def test_analyze_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["analyze", "--model", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "model folder not found" in capsys.readouterr().err
    assert main(["analyze", "--model", "minilm", "--layers", "x", "--out", str(tmp_path)]) == 2
    assert main(["analyze", "--model", "minilm", "--splits", "train",
                 "--out", str(tmp_path)]) == 2
    with pytest.raises(ModelError, match="offline"):
        load_model("some-org/missing-model")
