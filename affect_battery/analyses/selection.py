"""Which items a run uses: the subset, the patching pairs, the items knocked out or steered.

Choices are spread over the eight emotions (round-robin in wheel order) and keep scenarios
whole, so pairs and grouped folds stay intact on any subset. They are deterministic: with
``seed=0`` every list keeps the battery's own order (the published figures), and any other seed
shuffles each emotion's candidates first, so a second seed draws a second, comparable subset.
Every id is read and built with :mod:`affect_battery.core.ids`, never by string surgery.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd

from ..core.constants import EMOTIONS
from ..core.ids import make_id, parse_id, scenario_of, sibling_id
from .patching import PatchPairs
from .prompts import ANSWER_LABELS, Prompt

PairKind = Literal["clinical_to_neutral", "within_clinical", "keyword_rich_to_clinical"]
PAIR_KINDS: tuple[PairKind, ...] = get_args(PairKind)
LABEL_INDEX: dict[str, int] = {e: k for k, e in enumerate(ANSWER_LABELS)}


def _shuffled(lists: list[list[str]], seed: int) -> list[list[str]]:
    if seed == 0:
        return lists
    rng = np.random.default_rng(seed)
    return [[lst[k] for k in rng.permutation(len(lst))] for lst in lists]


def _round_robin(lists: list[list[str]]) -> list[str]:
    return [lst[rank] for rank in range(max(map(len, lists), default=0))
            for lst in lists if rank < len(lst)]


def select_items(frame: pd.DataFrame, splits: Sequence[str], max_items: int | None = None,
                 seed: int = 0) -> pd.DataFrame:
    """The rows of the requested splits; with ``max_items``, whole scenarios spread over the
    emotions (plus complex_neutral items), at most ``2 * max_items`` rows."""
    frame = frame[frame["split"].isin(splits)].reset_index(drop=True)
    if max_items is None:
        return frame
    scenario = frame["id"].map(scenario_of)
    order = frame.drop_duplicates("id").assign(sc=scenario)
    per_emotion = [list(dict.fromkeys(order.loc[order["source_emotion"] == emo, "sc"]))
                   for emo in EMOTIONS]
    chosen = _round_robin(_shuffled(per_emotion, seed))[: max(1, max_items // 2)]
    keep = scenario.isin(chosen)
    frame = frame[keep | (frame["split"] == "complex_neutral")].head(max_items * 2)
    return frame.reset_index(drop=True)


def even_sample(ids: Sequence[str], n: int, seed: int = 0) -> list[str]:
    """Up to n ids, spread over emotions (round-robin in wheel order), deterministic."""
    by_emo: dict[str, list[str]] = {e: [] for e in EMOTIONS}
    for i in ids:
        by_emo[str(parse_id(i).emotion)].append(i)
    return _round_robin(_shuffled([by_emo[e] for e in EMOTIONS], seed))[:n]


def clinical_with_neutral(frame: pd.DataFrame, available: Collection[str]) -> list[str]:
    """Clinical ids of the frame whose matched neutral is among ``available``."""
    return [i for i in frame.loc[frame["split"] == "clinical", "id"]
            if sibling_id(i, "neutral") in available]


def patch_pairs(frame: pd.DataFrame, prompts: Mapping[str, Prompt], kind: PairKind, n: int,
                seed: int = 0) -> PatchPairs | None:
    """Up to ``n`` (source, target) pairs of one kind, or None when the frame has none.

    clinical -> its neutral (source label: the emotion, target: none); clinical -> the
    clinical of the next emotion on the wheel in the same domain and slot; keyword_rich -> its
    clinical (does the keyword-free version carry the same signal?).
    """
    ids = set(frame["id"])
    pairs: list[tuple[str, str, str, str]] = []  # source, target, source label, target label
    if kind == "clinical_to_neutral":
        for c in even_sample(clinical_with_neutral(frame, ids), n, seed):
            pairs.append((c, sibling_id(c, "neutral"), str(parse_id(c).emotion), "none"))
    elif kind == "within_clinical":
        for c in even_sample(list(frame.loc[frame["split"] == "clinical", "id"]), n, seed):
            p = parse_id(c)
            assert p.emotion is not None and p.domain is not None
            nxt = EMOTIONS[(EMOTIONS.index(p.emotion) + 1) % len(EMOTIONS)]
            other = make_id("clinical", nxt, p.domain, p.n)
            if other in ids:
                pairs.append((c, other, p.emotion, nxt))
    elif kind == "keyword_rich_to_clinical":
        cands = [k for k in frame.loc[frame["split"] == "keyword_rich", "id"]
                 if sibling_id(k, "clinical") in ids]
        for k in even_sample(cands, n, seed):
            pairs.append((k, sibling_id(k, "clinical"), str(parse_id(k).emotion), "none"))
    if not pairs:
        return None
    src, tgt, sl, tl = (list(col) for col in zip(*pairs, strict=True))
    return PatchPairs(kind, src, tgt, [prompts[i] for i in src], [prompts[i] for i in tgt],
                      np.array([LABEL_INDEX[e] for e in sl]),
                      np.array([LABEL_INDEX[e] for e in tl]))
