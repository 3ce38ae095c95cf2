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


# Review-tier lexicon warnings on shipped items that a person has read and judged literal. A new
# warning (or an edit that changes one of these) fails the tests below until it is judged too.
REVIEWED_LITERAL = {
    ("X-place-09", "bristled"): "mangrove mud bristling with breathing roots",
    ("M-fear-d2-2", "jolted"): "a window-cleaning cradle jolted (a physical movement)",
    ("C-fear-d3-3", "numbness"): "numbness creeping up an arm (a stroke symptom)",
}


def _judged(report) -> None:
    assert report.errors == [], "\n".join(map(str, report.errors[:20]))
    warnings = {(f.item_id, f.details.get("matched")) for f in report.findings
                if f.severity == "warning"}
    assert warnings == set(REVIEWED_LITERAL), "\n".join(
        map(str, [f for f in report.findings if f.severity == "warning"]))


def test_shipped_battery_is_valid_in_draft_mode():
    report = check_battery(strict=False)
    assert report.n_items > 0
    _judged(report)


def test_shipped_battery_is_complete_and_valid_in_strict_mode():
    report = check_battery(strict=True)
    assert report.n_items == 576
    _judged(report)


def test_shipped_emotions_are_known():
    frame = battery_frame()
    assert set(frame["source_emotion"].dropna()) <= set(EMOTIONS)


def test_scenario_column_and_one_row_order(mini_battery):
    from affect_battery.core.battery import order_key
    from affect_battery.core.ids import scenario_of

    frame = battery_frame(mini_battery / "stimuli")
    assert list(frame["scenario"]) == [scenario_of(i) for i in frame["id"]]
    assert list(frame["id"]) == sorted(frame["id"], key=order_key)
    dd = load_battery(mini_battery / "stimuli")
    for split in SPLITS:
        assert list(dd[split]["id"]) == list(frame.loc[frame["split"] == split, "id"])
    clinical = frame[frame["split"] == "clinical"]
    # emotions in wheel order (fear before anger), then domain, then item number (2 < 10)
    assert clinical["source_emotion"].drop_duplicates().tolist() == [
        e for e in EMOTIONS if e in set(clinical["source_emotion"])]
    neutral = dd["neutral"]
    assert all(s == i[2:] for s, i in zip(neutral["scenario"], neutral["id"], strict=True))
    quads = quadruplets(frame)
    assert (quads["domain_label"] != "").all()
