"""The gate's fast paths give the same answers as the full checks.

The gate judges only the new items' cross-row findings (``validate_frame(focus=...)``), looks
names up only where a pair's capitalised tokens differ (``names_differ``), and hides pandera's
optional hypothesis import while it runs. Each shortcut is checked here against the slow path.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pandas as pd

from affect_battery.core.battery import read_battery_with_findings
from affect_battery.core.schema import validate_frame
from affect_battery.core.textstats import character_names, names_differ


def _key(findings):
    return sorted((f.code, f.item_id or "", f.message) for f in findings)


def test_focus_gives_the_findings_of_the_full_check_for_those_items():
    battery, _ = read_battery_with_findings(None)
    rng = random.Random(7)
    # damage a few items in ways every cross-row rule notices
    frame = battery.copy()
    picks = rng.sample(list(frame.index[frame["split"] == "neutral"]), 3)
    frame.loc[picks[0], "text"] = frame.loc[picks[0], "text"] + " Then" + " more" * 20 + "."
    frame.loc[picks[0], "word_count"] = len(frame.loc[picks[0], "text"].split())
    frame.loc[picks[1], "text"] = frame.loc[picks[1], "text"].replace(".", ". Zorvath came.", 1)
    clinical = frame.index[frame["split"] == "clinical"][5]
    frame.loc[picks[2], "text"] = frame.loc[clinical, "text"]  # a copy of another scenario
    frame.loc[picks[2], "matched_control_id"] = "C-anger-d6-9"  # and a dangling link
    focus = set(frame.loc[picks, "id"])
    full = [f for f in validate_frame(frame, strict=False) if f.item_id in focus]
    fast = [f for f in validate_frame(frame, strict=False, focus=focus) if f.item_id in focus]
    assert _key(fast) == _key(full)
    codes = {f.code for f in full}
    assert {"pair-length", "pair-characters", "duplicate-text", "dangling-link"} <= codes


def test_names_differ_matches_comparing_character_names():
    battery, _ = read_battery_with_findings(None)
    texts = list(battery["text"])
    rng = random.Random(3)
    for _ in range(60):
        a, b = rng.sample(texts, 2)
        names, ref = character_names(a), character_names(b)
        assert names_differ(a, b) == (sorted(ref - names), sorted(names - ref))
    pairs = battery[battery["split"] == "neutral"][["text", "matched_control_id"]]
    by_id = dict(zip(battery["id"], battery["text"], strict=True))
    for text, ref_id in pairs.head(40).itertuples(index=False):
        names, ref = character_names(text), character_names(by_id[ref_id])
        assert names_differ(text, by_id[ref_id]) == (sorted(ref - names), sorted(names - ref))


def test_gate_process_leaves_hypothesis_importable_and_pandera_working(tmp_path):
    # In a fresh process: the gate runs with hypothesis hidden, then hypothesis imports again.
    item = tmp_path / "one.jsonl"
    item.write_text('{"id": "C-anger-d6-9", "text": "Short."}\n', encoding="utf-8")
    script = (
        "import sys\n"
        "from affect_battery.cli import main\n"
        f"code = main(['gate', '--no-battery', {str(item)!r}])\n"
        "assert code == 1, code\n"
        "assert 'hypothesis' not in sys.modules or sys.modules['hypothesis'] is not None\n"
        "import hypothesis  # importable again after the command\n"
        "print('ok', hypothesis.__name__)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok hypothesis")
    assert "Traceback" not in proc.stderr


def test_frame_index_is_irrelevant_to_the_focus_path():
    battery, _ = read_battery_with_findings(None)
    shuffled = battery.sample(frac=1.0, random_state=0)
    focus = set(shuffled["id"].head(20))
    a = validate_frame(battery, strict=False, focus=focus)
    b = validate_frame(pd.DataFrame(shuffled).reset_index(drop=True), strict=False, focus=focus)
    assert _key([f for f in a if f.code != "near-duplicate"]) == \
        _key([f for f in b if f.code != "near-duplicate"])


def test_focus_finds_the_same_near_duplicates_with_the_same_scores():
    battery, _ = read_battery_with_findings(None)
    frame = battery.copy()
    neutrals = list(frame.index[frame["split"] == "neutral"])
    clinicals = list(frame.index[frame["split"] == "clinical"])
    # a neutral rewritten as a lightly edited copy of another scenario's clinical text (the
    # copy is the later row, as a new item is in the gate, so the finding names it)
    target = max(neutrals)
    source = frame.loc[min(clinicals), "text"].split()
    source[3], source[20] = "lantern", "harbour"
    frame.loc[target, "text"] = " ".join(source)
    focus = {frame.loc[target, "id"], frame.loc[neutrals[8], "id"]}
    assert frame.loc[target, "id"][2:] != frame.loc[min(clinicals), "id"][2:]
    full = [f for f in validate_frame(frame, strict=False) if f.item_id in focus]
    fast = [f for f in validate_frame(frame, strict=False, focus=focus) if f.item_id in focus]
    assert _key(fast) == _key(full)
    near = [f for f in fast if f.code == "near-duplicate"]
    assert near and all(f.details["jaccard"] > 0.5 for f in near)


def test_a_cached_clean_base_is_trusted_and_the_findings_do_not_change(tmp_path, monkeypatch):
    """The cached battery table records that its rows passed the row schema; the gate then
    runs the schema on the new rows only, with the findings of a full check."""
    import json

    from affect_battery.core.battery import ROW_SCHEMA_CLEAN
    from affect_battery.validators.gate import run_gate

    monkeypatch.setenv("AFFECT_BATTERY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("AFFECT_BATTERY_NO_CACHE", raising=False)
    battery, _ = read_battery_with_findings(None)  # computed, stored with its verdict
    assert not battery.attrs.get(ROW_SCHEMA_CLEAN)
    cached, _ = read_battery_with_findings(None)
    assert cached.attrs[ROW_SCHEMA_CLEAN] is True
    shipped = battery.set_index("id")
    items = [
        {"id": "C-anger-d1-9", "text": "Hal set the table.", "domain": 7},  # schema error
        {"id": "N-anger-d1-9", "text": "Hal set the table."},
        {"id": "C-joy-d2-9", "text": shipped.at["C-joy-d2-1", "text"]},  # duplicate text
        {"id": "C-joy-d2-9", "text": "Mira found the key."},  # duplicate id among new items
        {"id": "C-fear-d1-1", "text": "Another text for a shipped id."},  # collision
    ]
    path = tmp_path / "new.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    trusted = run_gate([path])
    monkeypatch.setenv("AFFECT_BATTERY_NO_CACHE", "1")
    full = run_gate([path])
    assert _key(trusted.findings) == _key(full.findings)
    codes = {f.code for f in full.findings}
    assert {"schema", "duplicate-text", "duplicate-id", "id-collision"} <= codes
