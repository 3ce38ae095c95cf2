"""Honest figures: every judged item in a confusion matrix, titles that stand alone, and a
report.md that names only the figures that were written."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from affect_battery.core.battery import battery_frame
from affect_battery.validators.accuracy import NO_PREDICTION, TIE, top1
from affect_battery.validators.defence import run_defence
from affect_battery.validators.nrc import nrc_section
from affect_battery.validators.report import write_report
from affect_battery.validators.report.figures import confusion_title, text_colour

from .conftest import make_battery, write_battery


def test_confusion_rows_count_ties_and_none_on_a_small_case():
    """Six clinical items: two right, one wrong, two ties, one without any emotion word."""
    frame = pd.DataFrame({
        "id": [f"C-{e}-d1-{k}" for e, k in [("anger", 1), ("anger", 2), ("anger", 3),
                                            ("fear", 1), ("fear", 2), ("fear", 3)]],
        "split": ["clinical"] * 6,
        "source_emotion": ["anger"] * 3 + ["fear"] * 3,
        "pred": ["anger", TIE, NO_PREDICTION, "fear", "joy", TIE],
        "source_id": [None] * 6,
    })
    block = top1(frame, "pred").clinical
    assert block is not None
    conf = block.confusion
    assert conf.cols[-2:] == [TIE, NO_PREDICTION]
    m = np.asarray(conf.matrix)
    rows = dict(zip(conf.rows, m.sum(axis=1).tolist(), strict=True))
    assert rows["anger"] == 3 and rows["fear"] == 3  # ties and "none" are not dropped
    assert int(m.sum()) == block.n == 6
    anger, fear = conf.rows.index("anger"), conf.rows.index("fear")
    assert m[anger, conf.cols.index(TIE)] == 1 and m[anger, conf.cols.index(NO_PREDICTION)] == 1
    assert m[fear, conf.cols.index("joy")] == 1 and m[fear, conf.cols.index(TIE)] == 1
    assert block.accuracy == pytest.approx(2 / 6, abs=1e-4)  # a tie or "none" is not a hit
    title = confusion_title("NRC", "clinical", block)
    assert "n = 6" in title and "33.3%" in title and "chance 12.5%" in title


def test_nrc_confusion_on_the_shipped_battery_sums_to_n():
    """The issue's numbers: the clinical matrix summed to 137 of 192 and the fear row to 11 of
    24, because ties were dropped. Every row must now hold every item of its emotion."""
    frame = battery_frame().reset_index(drop=True)
    section = nrc_section(frame)
    for split, block in section.top1.by_split().items():
        part = frame[frame["split"] == split]
        m = np.asarray(block.confusion.matrix)
        assert int(m.sum()) == block.n == len(part), split
        per_emotion = part["source_emotion"].value_counts()
        for i, emo in enumerate(block.confusion.rows):
            assert int(m[i].sum()) == int(per_emotion.get(emo, 0)), (split, emo)
    clinical = section.top1.clinical
    assert clinical is not None
    assert np.asarray(clinical.confusion.matrix)[:, clinical.confusion.cols.index(TIE)].sum() > 0


def test_text_colour_follows_the_cell():
    assert text_colour((0.97, 0.98, 1.0, 1.0)) == "black"  # the lightest Blues cell
    assert text_colour((0.03, 0.19, 0.42, 1.0)) == "white"  # the darkest


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    """The lexicon-only defence battery (no classifier) on a small synthetic battery."""
    root = write_battery(tmp_path_factory.mktemp("fig") / "data",
                         make_battery(("anger", "fear", "joy"), range(1, 3)))
    return run_defence(battery_frame(root / "stimuli"), None)


def _named_files(report_md: str) -> list[str]:
    return re.findall(r"[\w.-]+\.png", report_md)


def test_report_md_names_only_written_figures(small_report, tmp_path):
    report, items = small_report
    out = write_report(report, items, tmp_path / "with")
    named = _named_files((out / "report.md").read_text())
    on_disk = sorted(p.name for p in out.glob("*.png"))
    assert sorted(named) == on_disk
    # no classifier: no P(emotional) figure, and report.md does not claim one
    assert "p_emotional_by_split.png" not in named
    assert {"lexical_separability.png", "vader_by_split.png",
            "confusion_nrc_clinical.png"} <= set(on_disk)
    bare = write_report(report, items, tmp_path / "without", figures=False)
    assert _named_files((bare / "report.md").read_text()) == []
    assert not list(bare.glob("*.png"))


def test_figures_are_real_pngs(small_report, tmp_path):
    report, items = small_report
    out = write_report(report, items, tmp_path / "rep")
    for png in out.glob("*.png"):
        head = png.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n", png.name
        width = int.from_bytes(head[16:20], "big")
        assert width > 300, png.name
