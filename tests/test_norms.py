"""Reading norms: counterbalanced lists, answer intake, per-item norms, reliability, targets."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from affect_battery.core.battery import battery_frame, load_battery
from affect_battery.core.columns import NORM_COLUMNS
from affect_battery.core.ids import scenario_of
from affect_battery.core.norms import (
    RATING_FIELDS,
    item_norms,
    load_ratings,
    ratings_table,
    text_sha256,
)
from affect_battery.errors import InputError
from affect_battery.validators.norms import fleiss_kappa, krippendorff_alpha, norms_section
from affect_battery.validators.norms_study import build_lists, read_answers, render_batch
from affect_battery.validators.report import norms_markdown


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return battery_frame()


def _normed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["split"].isin(["clinical", "neutral", "moderate", "complex_neutral"])]


def test_lists_are_counterbalanced_and_complete(frame):
    items = list(zip(_normed(frame)["id"], _normed(frame)["text"], strict=True))
    entries = build_lists(items, round_no=9, cycles=3, lists_per_cycle=6, seed=5)
    per_reader: dict[str, list[str]] = {}
    for e in entries:
        per_reader.setdefault(e.reader, []).append(e.item_id)
    assert len(per_reader) == 18
    for ids in per_reader.values():
        scenarios = [scenario_of(i) for i in ids]
        assert len(scenarios) == len(set(scenarios)), "a list holds two versions of a scenario"
    per_cycle = Counter((e.cycle, e.item_id) for e in entries)
    assert set(per_cycle.values()) == {1}
    assert Counter(e.item_id for e in entries) == Counter({i: 3 for i, _ in items})
    assert len({e.code for e in entries}) == len(entries)
    sizes = Counter(e.reader for e in entries).values()
    assert max(sizes) - min(sizes) <= 2
    again = build_lists(items, round_no=9, cycles=3, lists_per_cycle=6, seed=5)
    assert again == entries


def test_batch_shows_no_ids_or_labels(frame):
    items = list(zip(_normed(frame)["id"][:40], _normed(frame)["text"][:40], strict=True))
    entries = build_lists(items, round_no=1, cycles=1, lists_per_cycle=2, seed=1)
    mine = [e for e in entries if e.list == 1]
    text = render_batch(mine, dict(items), "INSTRUCTION")
    assert text.startswith("INSTRUCTION")
    for e in mine:
        assert f"[{e.code}]" in text and e.item_id not in text
    for word in ("clinical", "neutral", "moderate", "complex"):
        assert word not in text.lower().split("=" * 72)[0]


def test_answers_are_joined_and_checked(tmp_path, frame):
    items = list(zip(frame["id"][:4], frame["text"][:4], strict=True))
    entries = build_lists(items, round_no=1, cycles=1, lists_per_cycle=4, seed=2)
    mine = [e for e in entries if e.list == 1]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps({"code": e.code, "label": "fear", "intensity": 2,
                                        "natural": "yes"}) + "\n" for e in mine))
    rows = read_answers(path, mine, instruction_version="v1")
    assert [r["item_id"] for r in rows] == [e.item_id for e in sorted(mine,
                                                                    key=lambda e: e.position)]
    assert set(rows[0]) == set(RATING_FIELDS)
    path.write_text(json.dumps({"code": "ZZZZZ", "label": "fear", "intensity": 1}) + "\n")
    with pytest.raises(ValueError, match="unknown code"):
        read_answers(path, mine, instruction_version="v1")


def _ratings(rows: list[tuple[str, str, str, int, str]], frame: pd.DataFrame,
             stale: set[str] = frozenset()) -> pd.DataFrame:
    texts = dict(zip(frame["id"], frame["text"], strict=True))
    out = []
    for rnd, reader, item, intensity, label in rows:
        text = texts[item] + (" (old version)" if item in stale and rnd == "1" else "")
        out.append({"reader": reader, "rater_type": "ai", "round": int(rnd), "cycle": 1,
                    "list": 1, "instruction": "v1", "item_id": item,
                    "text_sha256": text_sha256(text), "label": label, "intensity": intensity,
                    "natural": "yes"})
    return pd.DataFrame(out, columns=list(RATING_FIELDS))


def test_item_norms_by_hand(frame):
    c, n = "C-anger-d1-1", "N-anger-d1-1"
    ratings = _ratings([("1", "a", c, 3, "anger"), ("1", "b", c, 2, "anger"),
                        ("1", "c", c, 3, "fear"), ("1", "a2", n, 1, "anger"),
                        ("2", "d", n, 0, "none"), ("2", "e", n, 0, "none"),
                        ("2", "f", n, 0, "none")], frame, stale={n})
    norms = item_norms(frame, ratings).set_index("id")
    assert list(norms.columns) == list(NORM_COLUMNS)
    row = norms.loc[c]
    assert row["norm_n"] == 3
    assert row["norm_agreement"] == pytest.approx(2 / 3)
    assert row["norm_intensity_mean"] == pytest.approx(8 / 3)
    assert row["norm_intensity_sd"] == pytest.approx(np.std([3, 2, 3], ddof=1))
    assert row["norm_p_anger"] == pytest.approx(2 / 3) and row["norm_p_fear"] == pytest.approx(
        1 / 3)
    # The round-1 read of the old neutral text is retired: only the three new reads count.
    assert norms.loc[n, "norm_n"] == 3 and norms.loc[n, "norm_agreement"] == 1.0
    assert norms.loc["K-anger-d1-1", "norm_n"] == 0
    assert np.isnan(norms.loc["K-anger-d1-1", "norm_agreement"])
    section = norms_section(frame, ratings).to_dict()
    assert section["first_read"]["by_split"]["neutral"]["agreement"] == 0.0
    assert section["current"]["by_split"]["neutral"]["agreement"] == 1.0
    assert section["n_items_revised"] == 1 and section["n_stale_ratings"] == 1
    table = ratings_table(frame, ratings)
    assert table["current"].tolist().count(False) == 1


def test_neutral_read_as_emotional_twice_is_a_problem(frame):
    n = "N-fear-d2-1"
    ratings = _ratings([("1", "a", n, 1, "fear"), ("1", "b", n, 1, "fear"),
                        ("1", "c", n, 0, "none")], frame)
    typed = norms_section(frame, ratings)
    section = typed.to_dict()
    problems = {p["item_id"]: p["problem"] for p in section["problems"]}
    assert "emotional by 2 readers" in problems[n]
    assert section["meets_targets"] is False
    md = "\n".join(norms_markdown(typed))
    assert "not human raters" in md and "first read" in md.lower() and "Fleiss" in md


def test_fleiss_kappa_cross_checks_krippendorff_alpha():
    """On complete data with many items, Fleiss' kappa and nominal alpha nearly coincide."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 9, size=300)
    rows = []
    for i, t in enumerate(truth):
        for r in range(3):
            label = t if rng.random() < 0.8 else rng.integers(0, 9)
            rows.append({"reader": f"r{r}", "item_id": f"i{i}",
                         "label": ["joy", "trust", "fear", "surprise", "sadness", "disgust",
                                   "anger", "anticipation", "none"][label]})
    df = pd.DataFrame(rows)
    counts = pd.crosstab(df["item_id"], df["label"]).to_numpy()
    kappa = fleiss_kappa(counts)
    alpha = krippendorff_alpha(df, "label", "nominal")
    assert 0.6 < kappa < 0.9
    assert abs(kappa - alpha) < 0.01


def test_fleiss_kappa_perfect_and_chance():
    assert fleiss_kappa(np.array([[3, 0], [0, 3], [3, 0]])) == pytest.approx(1.0)
    assert fleiss_kappa(np.array([[1, 1], [1, 1]])) < 0


def test_shipped_ratings_load_and_reach_load_battery():
    ratings = load_ratings()
    assert len(ratings) >= 1440 and set(ratings["rater_type"]) <= {"ai", "human"}
    battery = load_battery()
    for split in ("clinical", "neutral", "moderate", "complex_neutral", "keyword_rich"):
        assert set(NORM_COLUMNS) <= set(battery[split].column_names)
    assert set(battery["keyword_rich"]["norm_n"]) == {0}
    assert min(battery["clinical"]["norm_n"]) >= 3


def test_malformed_ratings_file_is_an_input_error(tmp_path):
    bad = tmp_path / "ratings.jsonl"
    bad.write_text('{"reader": "a"}\n')
    with pytest.raises(InputError, match=r"ratings\.jsonl:1"):
        load_ratings(bad)


def test_shipped_norms_cover_every_text_and_meet_the_targets():
    """Editing an item retires its ratings: this fails until the new text is normed again."""
    section = norms_section(battery_frame())
    d = section.to_dict()
    assert d["items_unrated"] == [] and d["problems"] == []
    assert section.meets_targets
    cur = d["current"]["by_split"]
    assert cur["clinical"]["agreement"] >= 0.95 and cur["neutral"]["agreement"] >= 0.97
    assert cur["neutral"]["intensity_mean"] <= 0.10 and cur["complex_neutral"]["agreement"] == 1
    assert d["first_read"]["n_ratings"] >= 1440
