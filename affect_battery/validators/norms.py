"""The norms section of the defence report: how independent readers read every text.

Figures come in two states, always shown side by side: *first read* (each item's ratings from
the first round in which it was read, i.e. before any revision) and *current* (ratings of the
exact current text). Reporting only the last round after rewrites would hide how often the
battery failed before it was fixed.

Reliability: Fleiss' kappa (labels; raters per item may vary) and Krippendorff's alpha (labels
nominal, intensity ordinal) from the maintained ``krippendorff`` package, which handles the
sparse reader x item design of counterbalanced lists (each reader sees one list only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.constants import EMOTIONS, NONE, NORM_LABELS
from ..core.ids import sibling_id
from ..core.norms import annotate, load_ratings

NORMED_SPLITS: tuple[str, ...] = ("clinical", "neutral", "moderate", "complex_neutral")
MIN_READS = 3


@dataclass(frozen=True)
class NormTargets:
    """Targets of the norms issue, checked on current ratings."""

    clinical_agreement_min: float = 0.95
    neutral_none_min: float = 0.97
    neutral_max_emotional_reads_per_item: int = 1
    neutral_intensity_mean_max: float = 0.10
    moderate_agreement_min: float = 0.90
    complex_neutral_none_min: float = 1.0
    min_reads_per_item: int = MIN_READS


TARGETS = NormTargets()


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from an items x categories matrix of rating counts.

    Items may have different numbers of raters (the usual generalisation: each item's observed
    agreement over its own rater pairs; category shares pooled over all ratings). Items with
    fewer than two ratings are ignored. Written here because the formula is four lines and the
    maintained implementation (statsmodels) would add a heavy dependency for it.

    Fleiss (1971), worked example as reproduced on Wikipedia's "Fleiss' kappa" page (10 items,
    14 raters, 5 categories): kappa = 0.210.

    >>> table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
    ...                   [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
    ...                   [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    >>> round(fleiss_kappa(table), 3)
    0.21
    """
    counts = np.asarray(counts, float)
    n = counts.sum(axis=1)
    counts, n = counts[n >= 2], n[n >= 2]
    if len(n) == 0:
        return float("nan")
    p_i = ((counts ** 2).sum(axis=1) - n) / (n * (n - 1))
    p_j = counts.sum(axis=0) / n.sum()
    p_e = float((p_j ** 2).sum())
    if p_e >= 1.0:
        return float("nan")
    return float((p_i.mean() - p_e) / (1 - p_e))


def krippendorff_alpha(ratings: pd.DataFrame, value: str, level: str) -> float:
    """Krippendorff's alpha over a readers x items matrix (missing where a reader did not read).

    >>> r = pd.DataFrame({"reader": ["a", "b", "a", "b"], "item_id": ["x", "x", "y", "y"],
    ...                   "intensity": [0, 0, 3, 3]})
    >>> krippendorff_alpha(r, "intensity", "ordinal")
    1.0
    """
    import krippendorff

    if ratings.empty or ratings["item_id"].nunique() < 2:
        return float("nan")
    if level == "nominal":
        codes = {lab: i for i, lab in enumerate(NORM_LABELS)}
        values = ratings[value].map(codes)
    else:
        values = ratings[value].astype(float)
    matrix = (ratings.assign(_v=values)
              .pivot_table(index="reader", columns="item_id", values="_v", aggfunc="first"))
    data = matrix.to_numpy(float)
    if np.unique(data[~np.isnan(data)]).size < 2:
        return 1.0
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level,
                                    value_domain=list(range(len(NORM_LABELS)))
                                    if level == "nominal" else None))


def _counts(rated: pd.DataFrame) -> np.ndarray:
    table = pd.crosstab(rated["item_id"], rated["label"])
    return table.reindex(columns=list(NORM_LABELS), fill_value=0).to_numpy()


@dataclass
class Cell:
    """Aggregate over a group of reads: how many, how often as intended, how intense."""

    n_items: int
    n_reads: int
    agreement: float | None
    intensity_mean: float | None
    intensity_sd: float | None

    @classmethod
    def of(cls, part: pd.DataFrame) -> Cell:
        if part.empty:
            return cls(0, 0, None, None, None)
        sd = float(part["intensity"].std(ddof=1)) if len(part) > 1 else 0.0
        return cls(int(part["item_id"].nunique()), len(part),
                   round(float(part["agree"].mean()), 4),
                   round(float(part["intensity"].mean()), 4), round(sd, 4))


@dataclass
class NormsState:
    """Figures for one state of the battery (first read, or current)."""

    n_ratings: int
    n_readers: int
    by_split: dict[str, Cell]
    by_emotion: dict[str, dict[str, Cell]]
    fleiss_kappa: float | None
    alpha_label: float | None
    alpha_intensity: float | None
    natural_share: dict[str, float | None]


def _state(rated: pd.DataFrame) -> NormsState:
    by_split = {s: Cell.of(rated[rated["split"] == s]) for s in NORMED_SPLITS}
    by_emotion = {e: {s: Cell.of(rated[(rated["split"] == s) & (rated["source_emotion"] == e)])
                      for s in ("clinical", "neutral", "moderate")} for e in EMOTIONS}
    natural = {}
    for s in NORMED_SPLITS:
        part = rated[(rated["split"] == s) & rated["natural"].notna()]
        natural[s] = round(float((part["natural"] == "yes").mean()), 4) if len(part) else None

    def rnd(x: float) -> float | None:
        return None if x != x else round(x, 4)

    return NormsState(
        n_ratings=len(rated), n_readers=int(rated["reader"].nunique()),
        by_split=by_split, by_emotion=by_emotion,
        fleiss_kappa=rnd(fleiss_kappa(_counts(rated))) if len(rated) else None,
        alpha_label=rnd(krippendorff_alpha(rated, "label", "nominal")) if len(rated) else None,
        alpha_intensity=rnd(krippendorff_alpha(rated, "intensity", "ordinal"))
        if len(rated) else None,
        natural_share=natural)


def first_reads(annotated: pd.DataFrame) -> pd.DataFrame:
    """Each item's ratings from the first round in which it was read (its original text)."""
    if annotated.empty:
        return annotated
    first_round = annotated.groupby("item_id")["round"].transform("min")
    return annotated[annotated["round"] == first_round]


@dataclass
class ItemProblem:
    item_id: str
    problem: str


@dataclass
class RaterRow:
    """One split's current figures from each rater type, side by side (never pooled)."""

    split: str
    ai: Cell
    human: Cell


@dataclass
class NormsSection:
    """The ``norms`` block of the defence report."""

    computed: bool
    rater_type: str = "ai"
    note: str = ""
    targets: NormTargets = field(default_factory=NormTargets)
    first_read: NormsState | None = None
    current: NormsState | None = None
    n_stale_ratings: int = 0
    n_items_revised: int = 0
    items_unrated: list[str] = field(default_factory=list)
    problems: list[ItemProblem] = field(default_factory=list)
    meets_targets: bool = False
    n_human_ratings: int = 0
    n_human_raters: int = 0
    human_note: str = ""
    by_rater: list[RaterRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


NOTE = ("Readers are AI language models (independent helper sessions given only a coded batch "
        "of texts and a fixed instruction), not human raters.")


def _problems(current: pd.DataFrame, frame: pd.DataFrame, t: NormTargets) -> list[ItemProblem]:
    out: list[ItemProblem] = []
    normed = frame[frame["split"].isin(NORMED_SPLITS)]
    reads = current.groupby("item_id").size()
    for i in normed["id"]:
        if int(reads.get(i, 0)) < t.min_reads_per_item:
            out.append(ItemProblem(i, f"{int(reads.get(i, 0))} current reads "
                                      f"(needs {t.min_reads_per_item})"))
    neutral = current[current["split"] == "neutral"]
    emotional = neutral[neutral["label"] != NONE].groupby("item_id").size()
    for i, k in emotional.items():
        if k > t.neutral_max_emotional_reads_per_item:
            out.append(ItemProblem(str(i), f"neutral read as emotional by {k} readers"))
    mean_int = current.groupby("item_id")["intensity"].mean()
    for m in frame.loc[frame["split"] == "moderate", "id"]:
        c, n = sibling_id(m, "clinical"), sibling_id(m, "neutral")
        if not all(x in mean_int.index for x in (m, c, n)):
            continue
        if not mean_int[n] < mean_int[m] < mean_int[c]:
            out.append(ItemProblem(m, f"moderate intensity {mean_int[m]:.2f} not strictly "
                                      f"between neutral {mean_int[n]:.2f} and clinical "
                                      f"{mean_int[c]:.2f}"))
    return out


def _meets(state: NormsState, problems: list[ItemProblem], t: NormTargets) -> bool:
    s = state.by_split

    def ge(cell: Cell, target: float) -> bool:
        return cell.agreement is not None and cell.agreement >= target

    return (ge(s["clinical"], t.clinical_agreement_min) and ge(s["neutral"], t.neutral_none_min)
            and s["neutral"].intensity_mean is not None
            and s["neutral"].intensity_mean <= t.neutral_intensity_mean_max
            and ge(s["moderate"], t.moderate_agreement_min)
            and ge(s["complex_neutral"], t.complex_neutral_none_min) and not problems)


HUMAN_NOTE_NONE = ("No human ratings are stored: the human_norm_* columns are empty "
                   "(human_norm_n = 0) until a lab runs the human norming study.")


def rater_comparison(frame: pd.DataFrame, ratings: pd.DataFrame) -> list[RaterRow]:
    """Current figures per split for AI readers beside human raters (each from its own reads)."""
    cells: dict[str, dict[str, Cell]] = {}
    for kind in ("ai", "human"):
        part = ratings[ratings["rater_type"] == kind]
        annotated = annotate(part, frame) if not part.empty else None
        cur = (annotated[annotated["current"]] if annotated is not None
               else pd.DataFrame(columns=["split"]))
        cells[kind] = {s: Cell.of(cur[cur["split"] == s]) for s in NORMED_SPLITS}
    return [RaterRow(s, cells["ai"][s], cells["human"][s]) for s in NORMED_SPLITS]


def _with_humans(section: NormsSection, frame: pd.DataFrame,
                 ratings: pd.DataFrame) -> NormsSection:
    human = ratings[ratings["rater_type"] == "human"]
    section.n_human_ratings = len(human)
    section.n_human_raters = int(human["reader"].nunique()) if len(human) else 0
    section.human_note = (HUMAN_NOTE_NONE if human.empty else
                          "Human and AI figures are computed separately and never pooled.")
    section.by_rater = rater_comparison(frame, ratings)
    return section


def norms_section(frame: pd.DataFrame, ratings: pd.DataFrame | None = None,
                  rater_type: str = "ai", targets: NormTargets = TARGETS) -> NormsSection:
    """First-read and current figures, reliability, per-item problems and the target verdict
    for ``rater_type``; ``by_rater`` sets the AI and human current figures side by side."""
    ratings = load_ratings() if ratings is None else ratings
    all_ratings = ratings
    ratings = ratings[ratings["rater_type"] == rater_type]
    if ratings.empty:
        return _with_humans(NormsSection(computed=False, rater_type=rater_type,
                                         note=f"no {rater_type} ratings stored"),
                            frame, all_ratings)
    annotated = annotate(ratings, frame)
    annotated = annotated[annotated["split"].isin(NORMED_SPLITS)]
    current = annotated[annotated["current"]]
    first = first_reads(annotated)
    revised = sorted(set(annotated.loc[~annotated["current"], "item_id"]))
    problems = _problems(current, frame, targets)
    cur_state = _state(current)
    normed_ids = frame.loc[frame["split"].isin(NORMED_SPLITS), "id"]
    return _with_humans(NormsSection(
        computed=True, rater_type=rater_type, note=NOTE if rater_type == "ai" else "",
        targets=targets, first_read=_state(first), current=cur_state,
        n_stale_ratings=int((~annotated["current"]).sum()), n_items_revised=len(revised),
        items_unrated=sorted(set(normed_ids) - set(current["item_id"])),
        problems=problems, meets_targets=_meets(cur_state, problems, targets)),
        frame, all_ratings)
