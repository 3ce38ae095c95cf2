"""The human norming kit: lists, pages, response validation, Label Studio, separate norms."""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from affect_battery.cli import main
from affect_battery.core.battery import battery_frame
from affect_battery.core.columns import AI_NORM_COLUMNS, HUMAN_NORM_COLUMNS, NORM_COLUMNS
from affect_battery.core.constants import NORM_LABELS
from affect_battery.core.ids import scenario_of
from affect_battery.core.norms import (
    RATING_FIELDS,
    item_norms,
    load_ratings,
    rater_norms,
    text_sha256,
)
from affect_battery.core.paths import data_dir
from affect_battery.validators.norms import norms_section
from affect_battery.validators.norms_kit import label_studio
from affect_battery.validators.norms_kit.output import write_study
from affect_battery.validators.norms_kit.page import page_data, render_page, template
from affect_battery.validators.norms_kit.study import (
    FORMAT,
    build_study,
    normed_items,
    read_study,
)
from affect_battery.validators.norms_kit.tables import rater_table


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return battery_frame()


@pytest.fixture(scope="module")
def texts(frame) -> dict[str, str]:
    return dict(zip(frame["id"], frame["text"], strict=True))


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory, frame, texts) -> Path:
    out = tmp_path_factory.mktemp("kit") / "study"
    study = build_study(normed_items(frame), lists=20, seed=7)
    write_study(out, study, texts)
    return out


@pytest.fixture()
def store(tmp_path) -> Path:
    """A copy of the shipped ratings, so ingest tests never touch data/norms."""
    path = tmp_path / "ratings.jsonl"
    shutil.copy(data_dir() / "norms" / "ratings.jsonl", path)
    return path


def _intended(frame: pd.DataFrame) -> dict[str, str]:
    return {i: ("none" if s in ("neutral", "complex_neutral") else str(e))
            for i, s, e in zip(frame["id"], frame["split"], frame["source_emotion"],
                               strict=True)}


def response(study_dir: Path, frame: pd.DataFrame, *, list_index: int = 0,
             participant: str = "P1", rt_ms: int = 6000, pass_checks: bool = True,
             edit=None) -> dict:
    """A response as the page writes it, answering every text with its intended reading."""
    study = read_study(study_dir)
    sl = study.lists[list_index]
    intended = _intended(frame)
    answers = []
    for i in sl.items:
        label = intended[i.item_id]
        answers.append({"code": i.code, "text_sha256": i.text_sha256, "label": label,
                        "intensity": 0 if label == "none" else 2, "rt_ms": rt_ms,
                        "first_choice_ms": rt_ms // 2})
    for c in sl.checks:
        label = c.label if pass_checks else ("joy" if c.label != "joy" else "anger")
        answers.append({"code": c.code, "text_sha256": text_sha256(c.text), "label": label,
                        "intensity": c.intensity, "rt_ms": rt_ms, "first_choice_ms": 10})
    for pos, a in enumerate(answers, start=1):
        a["position"] = pos
    body = {"format": FORMAT, "study": study.study_id, "list": sl.list_id,
            "list_manifest_sha256": sl.manifest_sha256,
            "instruction_version": study.instruction_version, "participant": participant,
            "answers": answers}
    if edit:
        edit(body)
    return body


def _write(tmp_path: Path, name: str, body: object) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(body))
    return p


def _ingest(files, study_dir, store, *extra) -> int:
    return main(["norms", "ingest", *map(str, files), "--study", str(study_dir),
                 "--ratings", str(store), *extra])


# --- lists and pages ---------------------------------------------------------------------------

def test_lists_are_counterbalanced(frame):
    items = normed_items(frame)
    study = build_study(items, lists=6, cycles=2, seed=1, checks_per_list=3)
    assert len(study.lists) == 12
    for sl in study.lists:
        scenarios = [scenario_of(i.item_id) for i in sl.items]
        assert len(scenarios) == len(set(scenarios)), "a list holds two versions of a scenario"
        assert len(sl.checks) == 3 and all(c.label != "none" for c in sl.checks)
    per_cycle = Counter((sl.cycle, i.item_id) for sl in study.lists for i in sl.items)
    assert set(per_cycle.values()) == {1}
    assert Counter(i for _, i in per_cycle) == Counter({i: 2 for i, _ in items})
    codes = [i.code for sl in study.lists for i in sl.items] + [
        c.code for sl in study.lists for c in sl.checks]
    assert len(codes) == len(set(codes))
    again = build_study(items, lists=6, cycles=2, seed=1, checks_per_list=3)
    assert [sl.manifest_sha256 for sl in again.lists] == [sl.manifest_sha256
                                                          for sl in study.lists]
    other = build_study(items, lists=6, cycles=2, seed=2, checks_per_list=3)
    assert other.lists[0].manifest_sha256 != study.lists[0].manifest_sha256


def test_page_is_self_contained_and_shows_no_ids_or_labels(study_dir, frame, texts):
    study = read_study(study_dir)
    sl = study.lists[0]
    page = (study_dir / f"list-{sl.list_id}.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "src=", "<link", "@import", "url(", "fetch(",
                     "XMLHttpRequest", "WebSocket", "//cdn"):
        assert external not in page, external
    assert "default-src 'none'" in page  # the page may not load anything, by policy
    ids = set(frame["id"])
    assert not [i for i in ids if i in page]
    assert not re.search(r"\b[CNMKX]-[a-z]+-d\d", page)
    data = page_data(study, sl, texts)
    assert set(data["items"][0]) == {"code", "text", "sha256"}
    payload = json.dumps(data["items"]).lower()
    for word in ("clinical", "neutral", "moderate", "complex", "keyword", "item_id"):
        assert word not in payload
    for i in sl.items:
        assert json.dumps(texts[i.item_id], ensure_ascii=False)[1:-1].replace(
            "<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") in page
    for c in sl.checks:
        assert c.code in page
    for needle in ("Download my responses", 'for="consent-agree"', 'for="participant-code"',
                   "aria-label=\"Progress", "EDIT THIS TEMPLATE"):
        assert needle in page


def test_page_escapes_template_text(frame, texts):
    study = build_study(normed_items(frame), lists=20, seed=7)
    html = render_page(study, study.lists[0], texts,
                       consent="# Hi\n<script>alert(1)</script> and </script>",
                       instructions="x")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_study_cli_writes_html_and_label_studio(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["norms", "study", "--lists", "5", "--out", str(out)]) == 0
    assert "5 lists" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".html") == [
        f"list-L0{k}.html" for k in range(1, 6)]
    assert (out / "consent.md").read_text() == template("consent.md")
    # A non-empty folder is refused without --force, and nothing is touched.
    assert main(["norms", "study", "--lists", "5", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    ls = tmp_path / "ls"
    assert main(["norms", "study", "--lists", "5", "--out", str(ls), "--format",
                 "label-studio"]) == 0
    assert (ls / "label-studio" / "config.xml").is_file()
    assert len(list((ls / "label-studio").glob("tasks-*.json"))) == 5


@pytest.mark.parametrize("kind", ["symlink", "file", "device"])
def test_study_out_refuses_links_files_and_devices(tmp_path, capsys, kind):
    if kind == "symlink":
        (tmp_path / "real").mkdir()
        out = tmp_path / "link"
        out.symlink_to(tmp_path / "real")
    elif kind == "file":
        out = tmp_path / "f"
        out.write_text("keep")
    else:
        out = Path(os.devnull)
    assert main(["norms", "study", "--lists", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    if kind == "symlink":
        assert not any((tmp_path / "real").iterdir())
    if kind == "file":
        assert out.read_text() == "keep"


def test_study_needs_three_lists(tmp_path, capsys):
    assert main(["norms", "study", "--lists", "2", "--out", str(tmp_path / "s")]) == 2
    assert "at least 3" in capsys.readouterr().err


# --- ingest ------------------------------------------------------------------------------------

def test_ingest_stores_human_ratings_beside_machine_norms(tmp_path, study_dir, frame, store,
                                                          capsys):
    before = store.read_bytes()
    good = _write(tmp_path, "a.json", response(study_dir, frame, participant="P1"))
    second = _write(tmp_path, "b.json", response(study_dir, frame, list_index=1,
                                                 participant="P2"))
    assert _ingest([good, second], study_dir, store) == 0
    out = capsys.readouterr().out
    study = read_study(study_dir)
    n = len(study.lists[0].items) + len(study.lists[1].items)
    assert "2 kept, 0 excluded" in out and f"stored {n} human ratings" in out
    assert "| split | AI: agreement" in out and "| clinical | 100.0%" in out
    assert store.read_bytes().startswith(before)
    ratings = load_ratings(store)
    human = ratings[ratings["rater_type"] == "human"]
    assert len(human) == n and human["reader"].nunique() == 2
    assert set(human["instruction"]) == {"human-v1"}
    assert not human["reader"].str.contains("P1|P2").any()
    norms = item_norms(frame, ratings).set_index("id")
    shipped = item_norms(frame).set_index("id")
    read = set(human["item_id"])
    assert (norms.loc[list(read), "human_norm_n"] == 1).all()
    assert (norms.loc[list(read), "human_norm_agreement"] == 1.0).all()
    # Machine norms keep exactly their values: human reads are never pooled into norm_*.
    pd.testing.assert_frame_equal(norms[list(AI_NORM_COLUMNS)], shipped[list(AI_NORM_COLUMNS)])
    section = norms_section(frame, ratings)
    assert section.n_human_ratings == n and section.n_human_raters == 2
    table = "\n".join(rater_table(section))
    assert "never pooled" in table


def test_shipped_data_has_no_human_norms(frame):
    norms = item_norms(frame).set_index("id")
    assert list(norms.columns) == list(NORM_COLUMNS)
    assert (norms["human_norm_n"] == 0).all()
    assert norms[list(HUMAN_NORM_COLUMNS[1:])].isna().all().all()
    ai = rater_norms(frame, load_ratings(), "ai").set_index("id")
    pd.testing.assert_frame_equal(norms[list(AI_NORM_COLUMNS)], ai)
    section = norms_section(frame).to_dict()
    assert section["n_human_ratings"] == 0 and "No human ratings" in section["human_note"]
    assert [r["human"]["n_reads"] for r in section["by_rater"]] == [0, 0, 0, 0]


def test_exclusions_are_reported_not_stored(tmp_path, study_dir, frame, store, capsys):
    before = store.read_bytes()
    checks = _write(tmp_path, "c.json", response(study_dir, frame, participant="P3",
                                                 pass_checks=False))
    fast = _write(tmp_path, "f.json", response(study_dir, frame, list_index=2,
                                               participant="P4", rt_ms=400))
    assert _ingest([checks, fast], study_dir, store) == 0
    out = capsys.readouterr().out
    assert re.search(r"excluded  P3 .*: failed 2 of 2 attention checks", out)
    assert re.search(r"excluded  P4 .*: implausibly fast: median 400 ms per text", out)
    assert "0 kept, 2 excluded; stored 0 human ratings" in out
    assert store.read_bytes() == before


def _changed_hash(body: dict) -> None:
    body["answers"][0]["text_sha256"] = "0" * 64


def _other_list(body: dict) -> None:
    body["list"] = "L99"


def _other_build(body: dict) -> None:
    body["list_manifest_sha256"] = "f" * 64


def _missing(body: dict) -> None:
    body["answers"].pop()


def _bad_label(body: dict) -> None:
    body["answers"][0]["label"] = "happiness"


@pytest.mark.parametrize(("edit", "message"), [
    (_changed_hash, "changed text hash"),
    (_other_list, "wrong list"),
    (_other_build, "wrong list: the manifest hash"),
    (_missing, "unanswered"),
    (_bad_label, "not one of the choices"),
])
def test_unusable_file_is_one_line_exit_2_nothing_written(tmp_path, study_dir, frame, store,
                                                          capsys, edit, message):
    before = store.read_bytes()
    good = _write(tmp_path, "good.json", response(study_dir, frame, participant="G"))
    bad = _write(tmp_path, "bad.json", response(study_dir, frame, list_index=1,
                                                participant="B", edit=edit))
    assert _ingest([good, bad], study_dir, store) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and message in err[0], err
    assert "Traceback" not in captured.err
    assert store.read_bytes() == before


def test_duplicate_participant_and_not_json(tmp_path, study_dir, frame, store, capsys):
    a = _write(tmp_path, "a.json", response(study_dir, frame, participant="Same"))
    b = _write(tmp_path, "b.json", response(study_dir, frame, list_index=3, participant="Same"))
    assert _ingest([a, b], study_dir, store) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "duplicate participant 'Same'" in err[0]
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert _ingest([junk], study_dir, store) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not valid JSON" in err[0]
    other = _write(tmp_path, "other.json", {"format": "something else"})
    assert _ingest([other], study_dir, store) == 2
    assert "not a response file" in capsys.readouterr().err


def test_text_edited_in_battery_after_the_study(tmp_path, study_dir, frame, store, capsys,
                                                monkeypatch):
    study = read_study(study_dir)
    target = study.lists[0].items[0].item_id
    data = tmp_path / "data"
    shutil.copytree(data_dir() / "stimuli", data / "stimuli")
    for path in (data / "stimuli").glob("*.jsonl"):
        lines = path.read_text().split("\n")
        for k, line in enumerate(lines):
            if line.strip() and json.loads(line)["id"] == target:
                row = json.loads(line)
                row["text"] = row["text"].rstrip(".") + ", as usual."
                lines[k] = json.dumps(row, ensure_ascii=False)
        path.write_text("\n".join(lines))
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(data))
    good = _write(tmp_path, "a.json", response(study_dir, frame, participant="P1"))
    assert _ingest([good], study_dir, store) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "changed since the study was built" in err[0]


# --- Label Studio ------------------------------------------------------------------------------

def test_label_studio_config_and_tasks(frame, texts):
    root = ET.fromstring(label_studio.labeling_config())
    assert root.tag == "View"
    assert root.find("Text").get("value") == "$text"
    controls = {c.get("name"): c for c in root.iter("Choices")}
    assert [ch.get("value") for ch in controls["emotion"]] == list(NORM_LABELS)
    assert [ch.get("value") for ch in controls["intensity"]] == ["0", "1", "2", "3"]
    assert all(c.get("toName") == "text" and c.get("required") == "true"
               for c in controls.values())
    study = build_study(normed_items(frame), lists=20, seed=7)
    tasks = label_studio.tasks(study, study.lists[0], texts)
    assert len(tasks) == len(study.lists[0].items) + len(study.lists[0].checks)
    blob = json.dumps(tasks)
    assert not [i for i in frame["id"] if i in blob]
    assert all(t["data"]["text_sha256"] == text_sha256(t["data"]["text"]) for t in tasks)


def _ls_export(study_dir: Path, frame: pd.DataFrame, texts: dict[str, str]) -> list[dict]:
    """A Label Studio JSON export as the server writes it: two annotators on list L02, one
    of whom fails the attention checks, and one annotator who stopped after three tasks."""
    study = read_study(study_dir)
    sl = study.lists[1]
    checks = {c.code: c for c in sl.checks}
    intended = _intended(frame)
    code_item = {i.code: i.item_id for i in sl.items}
    out = []
    for n, task in enumerate(label_studio.tasks(study, sl, texts), start=1):
        code = task["data"]["code"]
        anns = []
        for who, careless in ((11, False), ({"id": 12, "email": "b@lab"}, True)):
            if code in checks:
                c = checks[code]
                label, inten = ("none", 0) if careless else (c.label, c.intensity)
            else:
                label = intended[code_item[code]]
                inten = 0 if label == "none" else 3
            anns.append({"id": 100 * n + len(anns), "completed_by": who,
                         "was_cancelled": False, "lead_time": 7.5,
                         "result": [{"from_name": "emotion", "to_name": "text",
                                     "type": "choices", "value": {"choices": [label]}},
                                    {"from_name": "intensity", "to_name": "text",
                                     "type": "choices", "value": {"choices": [str(inten)]}}]})
        if n <= 3:
            anns.append({"id": 9000 + n, "completed_by": 13, "lead_time": 9.0, "result": [
                {"from_name": "emotion", "type": "choices", "value": {"choices": ["joy"]}},
                {"from_name": "intensity", "type": "choices", "value": {"choices": ["1"]}}]})
        out.append({"id": n, "data": task["data"], "annotations": anns, "predictions": []})
    return out


def test_label_studio_export_round_trip(tmp_path, study_dir, frame, texts, store, capsys):
    export = _ls_export(study_dir, frame, texts)
    path = _write(tmp_path, "project-1-export.json", export)
    assert _ingest([path], study_dir, store) == 0
    out = capsys.readouterr().out
    assert re.search(r"kept      ls-11 \(list L02, \d+ texts, median 7\.5 s", out)
    assert re.search(r"excluded  ls-12 .*failed 2 of 2 attention checks", out)
    assert re.search(r"excluded  ls-13 .*incomplete", out)
    human = load_ratings(store)
    human = human[human["rater_type"] == "human"]
    study = read_study(study_dir)
    assert len(human) == len(study.lists[1].items)
    assert set(human["list"]) == {2} and set(human["intensity"]) <= {0, 3}
    # The same export again: the annotator is a duplicate participant.
    assert _ingest([path], study_dir, store) == 2
    assert "duplicate participant 'ls-11'" in capsys.readouterr().err


def test_label_studio_export_with_edited_text(tmp_path, study_dir, frame, texts, store, capsys):
    export = _ls_export(study_dir, frame, texts)
    export[0]["data"]["text"] += " Extra."
    path = _write(tmp_path, "edited.json", export)
    assert _ingest([path], study_dir, store) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "text hash differs" in err[0]


def test_rating_rows_have_the_stored_fields(tmp_path, study_dir, frame, store, capsys):
    good = _write(tmp_path, "a.json", response(study_dir, frame, participant="Z"))
    assert _ingest([good], study_dir, store, "--dry-run") == 0
    assert "would store" in capsys.readouterr().out
    assert _ingest([good], study_dir, store) == 0
    last = json.loads(store.read_text().strip().split("\n")[-1])
    assert list(last) == list(RATING_FIELDS) and last["rater_type"] == "human"
    assert last["natural"] is None and np.isfinite(last["intensity"])
