"""Every integrity rule of docs/ARCHITECTURE.md fires on a crafted violation, quiet otherwise."""

import pandas as pd
import pytest

from affect_battery.core.battery import read_battery_with_findings
from affect_battery.core.items import complete_items
from affect_battery.core.schema import (
    BatteryRow,
    IntegrityConfig,
    count_findings,
    duplicate_findings,
    validate_frame,
)

from .conftest import make_battery, scenario_items


def frame_of(items):
    raw = pd.DataFrame([{**it, "_file": "t.jsonl", "_line": i + 1} for i, it in enumerate(items)])
    frame, findings = complete_items(raw)
    return frame, findings


def codes(findings):
    return sorted({f.code for f in findings})


def test_valid_scenario_has_no_findings():
    frame, f = frame_of(scenario_items("anger", 1, 1, seed=1))
    assert f == []
    assert validate_frame(frame, strict=False) == []


def test_pandera_model_is_real():
    frame, _ = frame_of(scenario_items("anger", 1, 1, seed=1))
    BatteryRow.validate(frame, lazy=True)
    bad = frame.copy()
    bad.loc[0, "intensity"] = "extreme"
    findings = validate_frame(bad, strict=False)
    assert codes(findings) == ["schema"]
    assert findings[0].item_id == "C-anger-d1-1" and findings[0].line == 1


def test_duplicate_id_reported_with_lines():
    items = scenario_items("anger", 1, 1, seed=1)
    frame, _ = frame_of([*items, {"id": "C-anger-d1-1", "text": items[0]["text"] + " More."}])
    findings = validate_frame(frame, strict=False)
    dup = [f for f in findings if f.code == "duplicate-id"]
    assert {f.line for f in dup} == {1, len(items) + 1}


def test_dangling_and_one_way_links():
    items = scenario_items("anger", 1, 3, seed=2)  # C and N only
    frame, _ = frame_of(items[:1])
    assert [f.code for f in validate_frame(frame, strict=False)] == ["dangling-link"]
    frame, _ = frame_of([items[0], {**items[1], "matched_control_id": "C-anger-d1-4"}])
    # the given link contradicts the id, and the clinical's partner points elsewhere
    _, completion = frame_of([items[0], {**items[1], "matched_control_id": "C-anger-d1-4"}])
    assert "id-mismatch" in codes(completion)
    assert "one-way-link" in codes(validate_frame(frame, strict=False))


def test_moderate_source_must_exist():
    items = [i for i in scenario_items("fear", 2, 1, seed=3) if i["id"].startswith("M")]
    frame, _ = frame_of(items)
    assert codes(validate_frame(frame, strict=False)) == ["dangling-link"]


def test_word_count_mismatch_is_reported():
    items = scenario_items("anger", 1, 1, seed=1)
    items[0] = {**items[0], "word_count": 5}
    _, findings = frame_of(items)
    assert [f.code for f in findings] == ["count-mismatch"]
    assert "word_count is 5 but the text has" in findings[0].message


def test_pair_tolerances():
    items = scenario_items("anger", 1, 1, seed=1)
    by = {i["id"][0]: i for i in items}
    name = by["C"]["text"].split()[0]
    by["N"] = {**by["N"], "text": by["N"]["text"] + f" {name} oiled the hinge near the gate."}
    by["M"] = {**by["M"], "text": by["M"]["text"].replace(name, "Ysolde", 1)}
    by["K"] = {**by["K"], "text": by["K"]["text"] + " " + " ".join(["word"] * 30) + "."}
    frame, _ = frame_of(list(by.values()))
    findings = validate_frame(frame, strict=False)
    got = {(f.item_id[0], f.code) for f in findings}
    assert ("N", "pair-characters") not in got
    assert ("N", "pair-length") in got
    assert ("N", "pair-sentences") in got
    assert ("M", "pair-characters") in got
    assert ("K", "pair-length") in got


def test_length_bounds():
    items = scenario_items("anger", 1, 3, seed=5)
    short = "Velric carried the lamp. Velric closed the gate. He left. It rained."
    frame, _ = frame_of([{**items[0], "text": short}, {**items[1], "text": short + " Then."}])
    got = codes(validate_frame(frame, strict=False))
    assert "length" in got


def test_near_duplicate_across_scenarios_only():
    a = scenario_items("anger", 1, 3, seed=7)
    b = scenario_items("anger", 2, 3, seed=8)
    b[0] = {**b[0], "text": a[0]["text"].replace("noon", "night", 1)}
    frame, _ = frame_of([*a, *b])
    dups = [f for f in duplicate_findings(frame) if f.code == "near-duplicate"]
    assert {f.item_id for f in dups} == {"C-anger-d2-3"}  # near C- and N-anger-d1-3
    assert len(dups) == 2
    # within a scenario the clinical/neutral overlap is intended and never flagged
    frame, _ = frame_of(a)
    assert duplicate_findings(frame) == []


def test_identical_text_is_flagged():
    a = scenario_items("anger", 1, 3, seed=7)
    frame, _ = frame_of([a[0], {**a[1], "text": a[0]["text"]}])
    assert "duplicate-text" in codes(duplicate_findings(frame))


def test_strict_counts_vs_draft(mini_battery):
    frame, completion = read_battery_with_findings(mini_battery / "stimuli")
    assert completion == []
    assert validate_frame(frame, strict=False) == []
    strict = validate_frame(frame, strict=True)
    assert strict and codes(strict) == ["count"]


def test_full_battery_passes_strict(full_battery):
    frame, completion = read_battery_with_findings(full_battery / "stimuli")
    assert completion == []
    assert len(frame) == 576
    assert validate_frame(frame, strict=True) == []


def test_counts_flag_extra_slot_and_bad_themes():
    files = make_battery(("anger",), range(1, 2))
    frame, _ = frame_of(files["anger"] + scenario_items("anger", 1, 5, seed=99))
    msgs = [f.message for f in count_findings(frame)]
    assert any("outside the released battery's slots" in m for m in msgs)


def test_config_is_respected():
    items = scenario_items("anger", 1, 1, seed=1)
    frame, _ = frame_of(items)
    tight = IntegrityConfig(max_words=80, max_words_keyword_rich=80)
    assert "length" in codes(validate_frame(frame, strict=False, cfg=tight))


@pytest.mark.parametrize("field,value", [("emotion", "rage"), ("split", "training")])
def test_unknown_emotion_or_split(field, value):
    items = scenario_items("anger", 1, 1, seed=1)
    items[0] = {**items[0], field: value}
    frame, completion = frame_of(items)
    assert "id-mismatch" in codes(completion)
    assert "schema" in codes(validate_frame(frame, strict=False))
