"""The loader: typed DatasetDict, pairs and quadruplets, shipped data validity."""

import datasets

from affect_battery import EMOTIONS, SPLITS, load_battery, matched_pairs, quadruplets
from affect_battery.core.battery import battery_frame
from affect_battery.core.constants import LABELS
from affect_battery.validators.gate import check_battery


def test_load_battery_typed_splits(mini_battery):
    dd = load_battery(mini_battery / "stimuli")
    assert isinstance(dd, datasets.DatasetDict)
    assert list(dd) == list(SPLITS)
    assert dd["clinical"].num_rows == 16 and dd["complex_neutral"].num_rows == 0
    feat = dd["clinical"].features["emotion"]
    assert isinstance(feat, datasets.ClassLabel) and feat.names == list(LABELS)
    row = dd["neutral"][0]
    assert feat.int2str(row["emotion"]) == "neutral"
    assert row["matched_control_id"].startswith("C-") and row["source_id"] is None
    assert dd["keyword_rich"][0]["has_keywords"] is True
    assert isinstance(dd["clinical"][0]["domain"], int)


def test_pairs_and_quadruplets(mini_battery):
    frame = battery_frame(mini_battery / "stimuli")
    pairs = matched_pairs(frame)
    assert len(pairs) == 16
    assert (pairs["clinical_id"].str[2:] == pairs["neutral_id"].str[2:]).all()
    assert pairs["same_sentences"].all() and (pairs["word_diff_pct"] <= 5).all()
    quads = quadruplets(frame)
    assert len(quads) == 8  # 2 emotions x 2 domains x items 1-2
    assert quads["moderate_id"].notna().all()
    assert set(quads["emotion"]) == {"anger", "fear"}


def test_shipped_battery_is_valid_in_draft_mode():
    report = check_battery(strict=False)
    assert report.n_items > 0
    assert report.findings == [], "\n".join(map(str, report.findings))


def test_shipped_battery_is_complete_and_valid_in_strict_mode():
    report = check_battery(strict=True)
    assert report.n_items == 576
    assert report.findings == [], "\n".join(map(str, report.findings[:20]))


def test_shipped_emotions_are_known():
    frame = battery_frame()
    assert set(frame["source_emotion"].dropna()) <= set(EMOTIONS)
