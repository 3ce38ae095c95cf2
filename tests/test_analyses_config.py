"""AnalyzeConfig validation, the run result's layout, seeded subset choices, and the CLI's
error handling for analyze (no model is loaded in any of these)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from affect_battery import cli
from affect_battery.analyses import AnalyzeConfig
from affect_battery.analyses.config import METHODS
from affect_battery.analyses.prompts import build_prompt
from affect_battery.analyses.result import RunResult
from affect_battery.analyses.selection import (
    PAIR_KINDS,
    clinical_with_neutral,
    even_sample,
    patch_pairs,
    select_items,
)
from affect_battery.core.battery import battery_frame
from affect_battery.core.constants import EMOTIONS
from affect_battery.core.ids import parse_id, scenario_of, sibling_id
from affect_battery.errors import UsageError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return battery_frame()


def test_defaults_are_valid_and_frozen():
    cfg = AnalyzeConfig(model="minilm")
    assert cfg.methods == METHODS and cfg.seed == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1  # type: ignore[misc]
    assert not hasattr(cfg, "timings")


def test_sequences_are_normalised_to_tuples():
    cfg = AnalyzeConfig(model="m", methods=["probing"], layers=[0, 3], splits=["clinical"])
    assert cfg.methods == ("probing",) and cfg.layers == (0, 3) and cfg.splits == ("clinical",)
    assert AnalyzeConfig(model="m", methods="probing").methods == ("probing",)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"methods": ("probing", "telepathy")}, "methods: unknown telepathy"),
    ({"preset": "three_shot"}, "preset: unknown three_shot"),
    ({"device": "tpu"}, "device: unknown tpu"),
    ({"dtype": "int8"}, "dtype: unknown int8"),
    ({"splits": ("train",)}, "splits: unknown train"),
    ({"knockout_methods": ("noise",)}, "knockout_methods: unknown noise"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"n_permutations": -5}, "n_permutations must be an integer >= 1"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"max_items": 0}, "max_items must be an integer >= 1"),
    ({"layers": [0, -2]}, "layers must be an integer >= 0"),
    ({"layers": []}, "layers: give at least one layer"),
    ({"steering_strengths": ()}, "steering_strengths: give one or more numbers"),
    ({"model": " "}, "model: give a Hub id"),
])
def test_invalid_configs_raise_one_line_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message) as info:
        AnalyzeConfig(**{"model": "m", **kwargs})
    assert "\n" not in str(info.value)


def test_an_explicit_cuda_index_is_accepted():
    assert AnalyzeConfig(model="m", device="cuda:1").device == "cuda:1"


def test_config_block_of_results_json():
    d = AnalyzeConfig(model="m", layers=(0, 29), max_items=10).to_dict()
    assert "progress" not in d and "timings" not in d
    assert d["layers"] == [0, 29] and list(d)[:4] == ["model", "out", "methods", "layers"]


def test_run_result_lays_out_results_json_in_schema_order():
    r = RunResult(model={"id": "m"}, battery={"n_items": 1}, config={"model": "m"},
                  prompt_preset="raw", activation_cache_hit=False, layers=[0],
                  timings={"load_model_s": 1.234, "total_s": 2.0})
    r.sections["probing"] = {"folds": "5"}
    d = r.to_dict()
    assert list(d) == ["schema_version", "affect_battery_version", "model", "battery", "config",
                       "prompt_preset", "activation_cache_hit", "layers", "probing",
                       "timings_s", "headline"]
    assert d["schema_version"] == 1 and d["timings_s"] == {"load_model_s": 1.23, "total_s": 2.0}
    assert d["headline"] == {"total_wall_time_s": 2.0}


# ---- seeded subset choices -------------------------------------------------------------------

def test_even_sample_is_round_robin_over_the_wheel_with_seed_zero(frame):
    clinical = list(frame.loc[frame["split"] == "clinical", "id"])
    picked = even_sample(clinical, 10)
    assert [parse_id(i).emotion for i in picked[:8]] == list(EMOTIONS)
    first = {e: next(i for i in clinical if parse_id(i).emotion == e) for e in EMOTIONS}
    assert picked[:8] == [first[e] for e in EMOTIONS]  # the battery's own order
    other = even_sample(clinical, 10, seed=1)
    assert other != picked and [parse_id(i).emotion for i in other[:8]] == list(EMOTIONS)
    assert even_sample(clinical, 10, seed=1) == other


def test_max_items_keeps_whole_scenarios_and_follows_the_seed(frame):
    a = select_items(frame, ("clinical", "neutral"), 16)
    b = select_items(frame, ("clinical", "neutral"), 16, seed=7)
    for sub in (a, b):
        scen = sub["id"].map(scenario_of)
        assert len(sub) == 16 and (scen.value_counts() == 2).all()
        assert set(sub.loc[sub["split"] == "clinical", "source_emotion"]) == set(EMOTIONS)
    assert set(a["id"]) != set(b["id"])
    pd.testing.assert_frame_equal(select_items(frame, ("clinical", "neutral"), 16, seed=7), b)


def test_patch_pairs_are_built_from_the_id_scheme(frame):
    prompts = {i: build_prompt(t, "raw") for i, t in zip(frame["id"], frame["text"],
                                                         strict=True)}
    kinds = {}
    for kind in PAIR_KINDS:
        pairs = patch_pairs(frame, prompts, kind, 8)
        assert pairs is not None and len(pairs.source_ids) == 8
        kinds[kind] = pairs
    c2n = kinds["clinical_to_neutral"]
    assert c2n.target_ids == [sibling_id(c, "neutral") for c in c2n.source_ids]
    within = kinds["within_clinical"]
    for s, t in zip(within.source_ids, within.target_ids, strict=True):
        ps, pt = parse_id(s), parse_id(t)
        assert (ps.domain, ps.n, pt.split) == (pt.domain, pt.n, "clinical")
        assert EMOTIONS.index(pt.emotion) == (EMOTIONS.index(ps.emotion) + 1) % 8
    k2c = kinds["keyword_rich_to_clinical"]
    assert all(parse_id(k).split == "keyword_rich" for k in k2c.source_ids)
    assert k2c.target_ids == [sibling_id(k, "clinical") for k in k2c.source_ids]
    ids = set(frame.loc[frame["split"] == "neutral", "id"])
    assert all(sibling_id(c, "neutral") in ids for c in clinical_with_neutral(frame, ids))


# ---- the CLI ---------------------------------------------------------------------------------

def test_cli_help_lists_the_one_methods_tuple(capsys):
    with pytest.raises(SystemExit):
        cli.main(["analyze", "--help"])
    assert ",".join(METHODS) in capsys.readouterr().out.replace("\n", "").replace(" ", "")


def test_cli_config_mistakes_exit_2_with_one_line(tmp_path, capsys):
    assert cli.main(["analyze", "--model", "m", "--methods", "probing,telepathy",
                     "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "telepathy" in err
    assert cli.main(["analyze", "--model", "m", "--layers", "5-3", "--out", str(tmp_path)]) == 2
    assert "empty range" in capsys.readouterr().err


def test_cli_analyze_lets_a_bug_keep_its_traceback(monkeypatch, tmp_path):
    def buggy(_cfg):
        raise ValueError("a bug, not a user mistake")
    from affect_battery.cli import analyze as analyze_command

    monkeypatch.setattr(analyze_command, "run_suite", buggy)
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["analyze", "--model", "m", "--out", str(tmp_path)])


def test_one_seed_drives_folds_and_nulls_and_zero_is_the_default():
    import numpy as np

    from affect_battery.analyses import probing as pr

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 2)
    y = np.tile([1, 0], 12)
    x = rng.normal(size=(24, 4)) + y[:, None] * 0.8
    assert pr.binary_auroc(x, y, groups) == pr.binary_auroc(x, y, groups, seed=0)
    a = pr.permutation_null(x, y, groups, 0.9, 5, seed=3)
    assert a == pr.permutation_null(x, y, groups, 0.9, 5, seed=3)
    assert a != pr.permutation_null(x, y, groups, 0.9, 5, seed=4)


def test_transfer_scores_only_the_emotions_both_conditions_share():
    import numpy as np

    from affect_battery.analyses import probing as pr

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 6)) * 3
    y_train = np.repeat(np.array(["a", "b", "c", "d"]), 6)  # no "e" among the training items
    y_test = np.repeat(np.array(["a", "b", "c", "e"]), 4)  # no "d" among the test items
    idx = {k: i for i, k in enumerate("abcde")}
    x_train = centres[[idx[k] for k in y_train]] + rng.normal(size=(24, 6)) * 0.1
    x_test = centres[[idx[k] for k in y_test]] + rng.normal(size=(16, 6)) * 0.1
    res = pr.transfer(x_train, y_train, x_test, y_test)
    assert res["macro_auroc"] > 0.9 and res["accuracy"] == 0.75
