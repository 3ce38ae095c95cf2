"""The typed defence report: its JSON, its round trip, and the one renderer of its three views."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from affect_battery.core.battery import battery_frame
from affect_battery.core.constants import LABELS, NEUTRAL
from affect_battery.errors import InputError
from affect_battery.validators.accuracy import CHANCE
from affect_battery.validators.defence import DefenceReport, run_defence
from affect_battery.validators.lexical import (
    TARGET_TFIDF_AUROC,
    TARGET_TFIDF_AUROC_PER_EMOTION,
    TARGET_WORDCOUNT_AUROC,
    LexicalTargets,
    Separability,
)
from affect_battery.validators.records import NotComputed
from affect_battery.validators.report import (
    card_values,
    headline,
    render_markdown,
    write_report,
)

from .conftest import make_battery, write_battery

REPORT_KEYS = ["schema_version", "affect_battery_version", "mode", "battery_sha256", "counts",
               "missing_splits", "keyword_screen", "lexical", "complex_neutral_matching", "norms",
               "vader", "nrc", "classifier"]


class FixedClassifier:
    """A backend without a model: the three members of the ``Classifier`` protocol, no more.

    It covers two emotions only, so the report's covered-emotion figures are exercised too.
    """

    name = "fixed"
    labels: Sequence[str] = ("fear", "anger", NEUTRAL)

    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), len(LABELS)))
        for i, text in enumerate(texts):
            h = sum(map(ord, text))
            out[i, LABELS.index(NEUTRAL)] = 0.2 + (h % 7) / 10
            out[i, LABELS.index("anger" if h % 2 else "fear")] = 0.8 - (h % 7) / 10
        return out


@pytest.fixture(scope="module")
def defended(tmp_path_factory):
    """A report on a small battery without complex_neutral items, and the folder it wrote."""
    root = write_battery(tmp_path_factory.mktemp("defence") / "data",
                         make_battery(("anger", "fear"), range(1, 3)))
    report, items = run_defence(battery_frame(root / "stimuli"), FixedClassifier())
    out = write_report(report, items, tmp_path_factory.mktemp("out") / "rep", figures=False)
    return report, out


def test_to_dict_is_the_json_written_and_round_trips(defended):
    report, out = defended
    written = json.loads((out / "report.json").read_text())
    assert written == report.to_dict()
    assert list(written) == REPORT_KEYS
    assert DefenceReport.from_dict(written).to_dict() == written
    # export writes report.json with sorted keys; read back, it renders exactly the same
    resorted = DefenceReport.from_dict(json.loads(json.dumps(written, sort_keys=True)))
    assert card_values(resorted) == card_values(report)
    assert render_markdown(resorted) == (out / "report.md").read_text()
    assert headline(resorted) == headline(report)


def test_not_computed_sections_and_omitted_keys(defended):
    report, _ = defended
    d = report.to_dict()
    assert d["complex_neutral_matching"] == {"computed": False,
                                             "reason": "needs clinical and complex_neutral items"}
    assert isinstance(DefenceReport.from_dict(d).complex_neutral_matching, NotComputed)
    assert "structural" not in d and "item_p_clinical_oof" not in d["lexical"]
    clf_top = d["classifier"]["top1"]["clinical"]
    assert clf_top["covered_emotions"] == ["fear", "anger"]
    assert list(clf_top) == ["n", "accuracy", "chance", "binomial", "covered_emotions",
                             "accuracy_covered", "binomial_covered", "confusion"]
    assert "covered_emotions" not in d["nrc"]["top1"]["clinical"]
    assert d["classifier"]["neutral_own_emotion"]["chance"] == 0.5


def test_from_dict_refuses_other_schemas_and_broken_reports(defended):
    d = defended[0].to_dict()
    with pytest.raises(InputError, match="schema 1"):
        DefenceReport.from_dict({**d, "schema_version": 1})
    with pytest.raises(InputError, match="not a defence report"):
        DefenceReport.from_dict({k: v for k, v in d.items() if k != "vader"})
    with pytest.raises(InputError, match="not a defence report"):
        DefenceReport.from_dict({**d, "blind_read": {}})
    nested = json.loads(json.dumps(d))
    nested["lexical"]["clinical_vs_neutral"] = []
    with pytest.raises(InputError, match="ClinicalVsNeutral: expected an object"):
        DefenceReport.from_dict(nested)
    with pytest.raises(InputError, match="expected a JSON object"):
        DefenceReport.from_dict([d])  # type: ignore[arg-type]


def test_every_view_shows_the_thresholds_of_the_constants(defended):
    report, out = defended
    md, head = (out / "report.md").read_text(), headline(report)
    card = card_values(report)["defence_section"]
    for text in (md, head, card):
        assert f"(target <= {TARGET_TFIDF_AUROC:.2f})" in text
        assert f"(target <= {TARGET_WORDCOUNT_AUROC:.2f})" in text
        assert f"(target <= {TARGET_TFIDF_AUROC_PER_EMOTION:.2f})" in text
    assert f"NRC top-1 category on clinical: {report.nrc.top1.clinical.accuracy:.3f} " \
           f"(chance {CHANCE:.3f})" in head
    # the thresholds shown are the report's recorded targets, never typed into a string
    moved = DefenceReport.from_dict(report.to_dict())
    assert isinstance(moved.lexical, Separability)
    moved.lexical.targets = LexicalTargets(tfidf_auroc_max=0.33, wordcount_auroc_max=0.44,
                                           tfidf_auroc_per_emotion_max=0.55)
    for text in (render_markdown(moved), headline(moved), card_values(moved)["defence_section"]):
        assert "(target <= 0.33)" in text and "(target <= 0.44)" in text
        assert "(target <= 0.55)" in text
        assert f"(target <= {TARGET_TFIDF_AUROC:.2f})" not in text


def test_every_view_shows_pair_win_rates_and_the_neutrals_own_emotion(defended):
    report, out = defended
    lex, clf = report.lexical, report.classifier
    assert isinstance(lex, Separability) and clf is not None
    cvn, own = lex.clinical_vs_neutral, clf.neutral_own_emotion
    assert own is not None and cvn.tfidf_pair_win_rate is not None
    md = (out / "report.md").read_text()
    for text in (md, headline(report), card_values(report)["defence_section"]):
        assert f"{cvn.tfidf_pair_win_rate:.3f}" in text
        assert f"{cvn.wordcount_pair_win_rate:.3f}" in text
        assert "own scenario's emotion" in text and f"chance {own.chance:.3f}" in text
    for emo, e in cvn.by_emotion.items():
        assert (f"| {emo} | {e.tfidf_auroc:.3f} | {e.wordcount_auroc:.3f} | "
                f"{e.tfidf_pair_win_rate:.3f} | {e.n_pairs} |") in md
