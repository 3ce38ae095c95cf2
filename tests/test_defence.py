"""The defence battery end to end on small batteries, and the Hub classifier's real code path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from affect_battery.cli import main
from affect_battery.core.battery import battery_frame
from affect_battery.core.constants import LABELS
from affect_battery.core.findings import InputError
from affect_battery.validators import nrc, vader
from affect_battery.validators.classifier import (
    ClassifierError,
    HFClassifier,
    parse_spec,
    top_emotion,
)
from affect_battery.validators.defence import run_defence
from affect_battery.validators.lexical import Separability, grouped_folds, lexical_section
from affect_battery.validators.report import write_report

from .conftest import make_battery, write_battery
from .tiny_models import save_tiny_classifier

HARTMANN = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


def test_nrc_handles_anticip_key_and_own_tokens():
    r = nrc.analyse("They waited and hoped; the afraid child hid.")
    assert "anticip" not in r.counts and r.counts.get("anticipation", 0) >= 1
    assert r.counts.get("fear", 0) >= 1 and 0 < r.hit_rate < 1
    assert nrc.top1_credit(r, "anticipation") in (1.0, 0.5, 1 / 3)


def test_vader_drivers_rank_situational_words():
    d = vader.drivers(["He died and lost the house."], ["He sold the house."])
    assert list(d["word"])[:2] == ["died", "lost"]
    assert d.loc[0, "count_clinical"] == 1 and d.loc[0, "count_neutral"] == 0


def test_defence_report_without_classifier(mini_battery, tmp_path):
    frame = battery_frame(mini_battery / "stimuli")
    report, items = run_defence(frame, classifier=None)
    assert report.schema_version == 2 and report.counts["clinical"] == 16
    assert report.keyword_screen.items_with_hits_by_split["clinical"] == 0
    assert report.keyword_screen.items_with_hits_by_split["keyword_rich"] == 8
    assert report.vader.clinical_vs_neutral_pairs is not None
    assert report.vader.clinical_vs_neutral_pairs.n == 16
    assert isinstance(report.lexical, Separability)
    assert report.classifier is None
    out = write_report(report, items, tmp_path / "rep")
    assert json.loads((out / "report.json").read_text()) == report.to_dict()
    assert (out / "vader_by_split.png").stat().st_size > 1000
    assert "## Lexical separability" in (out / "report.md").read_text()
    assert len((out / "items.csv").read_text().splitlines()) == len(frame) + 1


def test_empty_battery_and_missing_split_are_input_errors(mini_battery):
    frame = battery_frame(mini_battery / "stimuli")
    with pytest.raises(InputError, match="empty"):
        run_defence(frame.iloc[0:0])
    with pytest.raises(InputError, match="split 'neutral' has no items"):
        run_defence(frame[frame["split"] != "neutral"])


def test_report_folder_is_replaced_atomically(mini_battery, tmp_path):
    frame = battery_frame(mini_battery / "stimuli")
    report, items = run_defence(frame)
    target = tmp_path / "rep"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    write_report(report, items, target, figures=False)
    assert not (target / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_classifier_specs():
    assert parse_spec("embedded").kind == "embedded"
    assert parse_spec("hf").target == "j-hartmann/emotion-english-distilroberta-base"
    assert parse_spec("hf:./m").target == "./m"
    with pytest.raises(ClassifierError, match="unknown classifier"):
        parse_spec("bert")


def test_hf_backend_on_tiny_random_model(tmp_path):
    folder = save_tiny_classifier(tmp_path / "tiny", HARTMANN)
    clf = HFClassifier(str(folder))
    probs = clf.predict_proba(["the letter was on the table", "she had a phone", "water"])
    assert probs.shape == (3, len(LABELS))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    for missing in ("trust", "anticipation"):
        assert (probs[:, LABELS.index(missing)] == 0).all()
    assert set(top_emotion(probs)) <= set(HARTMANN) - {"neutral"}


def test_hf_backend_errors(tmp_path):
    with pytest.raises(ClassifierError, match="model folder not found"):
        HFClassifier(str(tmp_path / "absent"))
    with pytest.raises(ClassifierError, match="--classifier embedded"):
        HFClassifier("some-org/not-cached-anywhere")
    folder = save_tiny_classifier(tmp_path / "noneutral", ["anger", "joy"])
    with pytest.raises(ClassifierError, match="no neutral class"):
        HFClassifier(str(folder))


def test_validate_with_hf_classifier_via_cli(mini_battery, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(mini_battery))
    folder = save_tiny_classifier(tmp_path / "tiny", HARTMANN)
    out = tmp_path / "rep"
    code = main(["validate", "--draft", "--classifier", f"hf:{folder}", "--out", str(out),
                 "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    c = report["classifier"]
    assert c["name"] == f"hf:{folder}"
    assert set(c["p_emotional_by_split"]) >= {"clinical", "neutral"}
    assert c["top1"]["clinical"]["covered_emotions"] == ["joy", "fear", "surprise", "sadness",
                                                         "disgust", "anger"]
    assert (out / "confusion_classifier_clinical.png").exists()


def test_validate_bad_classifier_exits_two(mini_battery, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(mini_battery))
    code = main(["validate", "--draft", "--classifier", "hf:/does/not/exist",
                 "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "model folder not found" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
    code = main(["validate", "--draft", "--classifier", "magic"])
    assert code == 2


def test_grouped_folds_never_split_a_scenario():
    groups = np.array([f"s{i // 2}" for i in range(40)])
    folds = grouped_folds(groups)
    assert len(folds) == 5
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(40))


def test_lexical_check_flags_a_vocabulary_swap(tmp_path):
    """Neutrals that swap vocabulary are caught; minimal-edit neutrals are not."""
    files = make_battery(("anger", "fear", "joy", "sadness"), range(1, 4))
    good = battery_frame(write_battery(tmp_path / "good", files) / "stimuli")
    swapped = {}
    for emo, items in files.items():
        rows = []
        for it in items:
            if it["id"].startswith("C-"):
                it = {**it, "text": it["text"].replace("the", "the hospital funeral debt", 2)}
            rows.append(it)
        swapped[emo] = rows
    bad = battery_frame(write_battery(tmp_path / "bad", swapped) / "stimuli")
    good_res, bad_res = lexical_section(good), lexical_section(bad)
    assert isinstance(good_res, Separability) and isinstance(bad_res, Separability)
    assert bad_res.clinical_vs_neutral.tfidf_auroc > 0.95
    assert bad_res.meets_targets is False
    assert good_res.clinical_vs_neutral.tfidf_auroc < 0.8
    top = [f.feature for f in bad_res.top_features.clinical[:6]]
    assert {"hospital", "funeral", "debt"} & set(top)


def test_demo_runs_main_job_on_embedded_default(mini_battery, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(mini_battery))
    code = main(["demo", "--out", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert code == 0
    assert "Structural and keyword checks (draft mode)" in out
    assert "bag of words, clinical vs neutral: TF-IDF AUROC" in out
    assert "classifier P(emotional) by split" in out
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["classifier"]["name"] == "embedded"
