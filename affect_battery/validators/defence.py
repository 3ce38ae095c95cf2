"""The defence battery: independent methods over the whole battery, one typed report.

Each method answers the same question from another side (is the battery keyword-free yet
affectively legible?) and returns its own section: the keyword screen, lexical separability,
complex_neutral matching, the reading norms, VADER, the NRC lexicon and, optionally, a contextual
classifier. :class:`DefenceReport` holds one typed field per section; ``to_dict()`` is
report.json, and :mod:`.report` renders it (report.md, the CLI headline, the dataset card).

Adding a method: write its computation and section dataclass in its own module, add one field
here (and its call in :func:`run_defence`), and one renderer in :mod:`.report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._util.progress import stage
from .._version import __version__
from ..core.constants import SPLITS
from ..core.digest import battery_digest
from ..core.schema import summarise
from ..errors import InputError
from .classifier import Classifier
from .complexity import ComplexSection, complex_neutral_matching
from .contextual import ClassifierSection, classifier_section
from .gate import GateReport
from .keyword_screen import KeywordScreenSection, keyword_section
from .lexical import LexicalSection, Separability, lexical_section
from .norms import NormsSection, norms_section
from .nrc import NrcSection, nrc_section
from .records import OMIT_IF_NONE, NotComputed, Record, ShapeError, build
from .vader import VaderSection, vader_section

REPORT_SCHEMA_VERSION = 2
"""2: the ``blind_read`` section became ``norms`` (three readers per text, first read and
current figures, reliability)."""
ITEM_COLUMNS: tuple[str, ...] = ("id", "split", "source_emotion", "vader_compound",
                                 "nrc_hit_rate", "nrc_top", "p_emotional", "clf_top",
                                 "lexicon_hits", "lexicon_review_hits", "bow_p_clinical_oof")
"""Per-item values written to items.csv (with every ``p_<label>`` column of the classifier)."""


@dataclass(kw_only=True)
class StructuralSummary(Record):
    """The structural checks' verdict, added by ``validate`` (not by ``run_defence``)."""

    ok: bool
    n_findings: int
    counts: dict[str, int]

    @classmethod
    def of(cls, gate: GateReport) -> StructuralSummary:
        """The verdict and the findings counted by code."""
        return cls(ok=not gate.errors, n_findings=len(gate.findings),
                   counts=summarise(gate.findings))


@dataclass(kw_only=True)
class DefenceReport(Record):
    """Everything report.json holds, one typed field per section, in report.json's order."""

    schema_version: int = REPORT_SCHEMA_VERSION
    affect_battery_version: str = __version__
    mode: str
    battery_sha256: str
    counts: dict[str, int]
    missing_splits: list[str]
    keyword_screen: KeywordScreenSection
    lexical: LexicalSection
    complex_neutral_matching: ComplexSection
    norms: NormsSection
    vader: VaderSection
    nrc: NrcSection
    classifier: ClassifierSection | None
    structural: StructuralSummary | None = field(default=None, metadata=OMIT_IF_NONE)
    # another battery (validate --battery): which one, and the checks it cannot support
    battery_source: dict[str, Any] | None = field(default=None, metadata=OMIT_IF_NONE)
    not_computed: dict[str, NotComputed] | None = field(default=None, metadata=OMIT_IF_NONE)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DefenceReport:
        """Rebuild a report from its report.json (e.g. one given to ``export --report``)."""
        if not isinstance(data, Mapping):
            raise InputError("not a defence report (expected a JSON object)")
        version = data.get("schema_version")
        if version != REPORT_SCHEMA_VERSION:
            raise InputError(f"defence report schema {version}, this version reads "
                             f"{REPORT_SCHEMA_VERSION}: re-run 'affect-battery validate'")
        try:
            return build(cls, data)  # type: ignore[no-any-return]
        except ShapeError as exc:
            raise InputError(f"not a defence report ({exc})") from None


def run_defence(frame: pd.DataFrame, classifier: Classifier | None = None,
                progress: bool = False, strict: bool = False,
                ratings: pd.DataFrame | None = None, skip: Mapping[str, str] | None = None
                ) -> tuple[DefenceReport, pd.DataFrame]:
    """All sections over a battery frame; returns (report, per-item table for items.csv).

    ``ratings`` are the battery's own reading norms (default: the shipped store); ``skip`` maps
    each check the battery cannot support to the reason (``core.sources``, ``--battery``): it is
    recorded in ``not_computed`` and its section is not run on data that is not there.
    """
    if frame.empty:
        raise InputError("the battery is empty: nothing to validate")
    for split in ("clinical", "neutral"):
        if not (frame["split"] == split).any():
            raise InputError(f"split {split!r} has no items; the defence battery compares "
                             "clinical items with their neutral controls")
    frame = frame.copy().reset_index(drop=True)
    counts = {s: int((frame["split"] == s).sum()) for s in SPLITS}
    # One stage line per method (stderr, _util.progress rules): the battery takes about a
    # minute on a CPU and should never run in silence.
    stage(f"defence battery: lexical separability (TF-IDF, word count; {len(frame)} texts)")
    lexical = lexical_section(frame)
    frame["bow_p_clinical_oof"] = frame["id"].map(
        lexical.item_p_clinical_oof if isinstance(lexical, Separability) else {})
    stage("defence battery: keyword screen")
    keywords = keyword_section(frame)
    stage("defence battery: complexity matching and reading norms")
    # ``skip`` names checks the battery cannot support (core.sources: no twins, no norms):
    # they are recorded as not computed, never run on data that is not there or not its own
    skip = dict(skip or {})
    complexity = complex_neutral_matching(frame)
    norms = (NormsSection(computed=False, note=skip["norms"])
             if "norms" in skip else norms_section(frame, ratings))
    stage("defence battery: VADER")
    vader = vader_section(frame)
    stage("defence battery: NRC lexicon")
    nrc = nrc_section(frame)
    contextual = None
    if classifier is not None:
        stage(f"defence battery: classifier {classifier.name}")
        contextual = classifier_section(frame, classifier, progress)
    report = DefenceReport(
        mode="strict" if strict else "draft",
        battery_sha256=battery_digest(frame),
        counts=counts,
        missing_splits=[s for s, n in counts.items() if n == 0],
        keyword_screen=keywords,
        lexical=lexical,
        complex_neutral_matching=complexity,
        norms=norms,
        vader=vader,
        nrc=nrc,
        classifier=contextual,
        not_computed={k: NotComputed(reason=v) for k, v in skip.items()} or None,
    )
    item_cols = [c for c in frame.columns if c in ITEM_COLUMNS or c.startswith("p_")]
    return report, frame[item_cols]
