"""One function per analysis method, each over the same :class:`RunContext`.

A step reads the context (model, items, prompts, the one capture of every site, the config)
and returns a :class:`StepOutput`: its results.json section, its CSV table and any timings of
its parts. Steps never write files and never touch the config; the suite runs them in
``METHODS`` order and the report renders what they return.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._util.cv import pair_wins
from ..core.constants import EMOTIONS
from ..core.ids import parse_id, scenario_of, sibling_id
from . import geometry as geo
from . import knockout as ko
from . import patching as pt
from . import probing as pr
from . import relp
from . import steering as st
from .capture import CaptureResult, record_prefix
from .config import AnalyzeConfig
from .hooks import Site
from .models import LoadedModel
from .paired import PairedProbing, matched_pairs
from .prompts import ANSWER_LABELS, Prompt
from .result import Section
from .selection import LABEL_INDEX, PAIR_KINDS, clinical_with_neutral, even_sample, patch_pairs
from .shared_prefix import CleanTails, record_clean_tails

Row = dict[str, Any]  # one row of a step's CSV table


@dataclass(frozen=True)
class RunContext:
    """Everything a step reads. ``best`` and ``best8`` are the read-out layers chosen by
    probing (the last requested layer until probing has run)."""

    loaded: LoadedModel
    frame: pd.DataFrame
    prompts: dict[str, Prompt]
    cap: CaptureResult
    idx: dict[str, int]  # item id -> row of the capture
    layers: list[int]
    sites: list[Site]
    label_ids: dict[str, int] | None  # answer label -> token id; None without an LM head
    cfg: AnalyzeConfig
    best: int
    best8: int

    @property
    def lids(self) -> list[int]:
        return list(self.label_ids.values()) if self.label_ids else []

    @property
    def causal(self) -> bool:
        return self.loaded.kind == "causal"


@dataclass
class StepOutput:
    section: Section
    table: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _split(frame: pd.DataFrame, *splits: str) -> np.ndarray:
    return frame["split"].isin(splits).to_numpy()


# ---- behaviour -------------------------------------------------------------------------------

def behaviour(ctx: RunContext) -> StepOutput:
    """The model's own answers: argmax over the answer labels' final-token logits."""
    assert ctx.cap.final_logits is not None
    frame = ctx.frame
    pred = np.array(ANSWER_LABELS)[ctx.cap.final_logits.argmax(axis=1)]
    out = {}
    for split in ("clinical", "neutral", "moderate", "keyword_rich", "complex_neutral"):
        m = (frame["split"] == split).to_numpy()
        if not m.any():
            continue
        want = (frame.loc[m, "source_emotion"].to_numpy() if split in ("clinical",
                "moderate", "keyword_rich") else np.array(["none"] * int(m.sum())))
        out[split] = {"accuracy": float(np.mean(pred[m] == want)), "n": int(m.sum()),
                      "answered_none": float(np.mean(pred[m] == "none"))}
    return StepOutput(out)


# ---- probing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ProbeTargets:
    """Row masks, labels and scenario groups of the two probing tasks."""

    cn: np.ndarray  # clinical or neutral rows
    cl: np.ndarray  # clinical rows
    y_bin: np.ndarray  # clinical (1) vs neutral (0) on the cn rows
    g_bin: np.ndarray
    y8: np.ndarray  # emotion on the cl rows
    g8: np.ndarray
    paired: PairedProbing | None = None  # clinical vs neutral within pairs (moderates scored)
    moderate: PairedProbing | None = None  # moderate vs neutral within pairs

    @property
    def can_bin(self) -> bool:
        return len(np.unique(self.y_bin)) == 2 and len(np.unique(self.g_bin)) >= 5

    @property
    def can8(self) -> bool:
        return len(np.unique(self.y8)) >= 3 and len(self.y8) >= 10


def _probe_targets(frame: pd.DataFrame, seed: int) -> _ProbeTargets:
    cn, cl = _split(frame, "clinical", "neutral"), _split(frame, "clinical")
    ids, texts = list(frame["id"]), dict(zip(frame["id"], frame["text"], strict=True))
    words = dict(zip(frame["id"], frame["word_count"].astype(float), strict=True))
    return _ProbeTargets(cn, cl, (frame.loc[cn, "split"] == "clinical").to_numpy(int),
                         frame.loc[cn, "id"].map(scenario_of).to_numpy(),
                         frame.loc[cl, "source_emotion"].to_numpy(),
                         frame.loc[cl, "id"].map(scenario_of).to_numpy(),
                         PairedProbing.build("binary", ids, texts, words, "clinical", seed),
                         PairedProbing.build("moderate", ids, texts, words, "moderate", seed))


def _task_rows(ctx: RunContext, pp: PairedProbing) -> list[int]:
    return [ctx.idx[i] for i in pp.task.ids]


def _probe_table(ctx: RunContext, t: _ProbeTargets) -> pd.DataFrame:
    """Per layer and position: binary and 8-class probe scores and keyword-rich transfer, and
    the paired metrics (clinical and moderate vs neutral, with the text baselines' win rates on
    the same folds)."""
    frame, seed = ctx.frame, ctx.cfg.seed
    cn, cl, y_bin, y8 = t.cn, t.cl, t.y_bin, t.y8
    kr, kn = _split(frame, "keyword_rich"), _split(frame, "keyword_rich", "neutral")
    tasks = [pp for pp in (t.paired, t.moderate) if pp is not None and t.can_bin]
    cn_pairs = matched_pairs(list(frame.loc[cn, "id"]))
    rows = []
    for layer in ctx.layers:
        for pos in ("final", "mean"):
            x = ctx.cap.get("resid", layer, pos)
            row: Row = {"layer": layer, "position": pos, "site": "resid"}
            for pp in tasks:  # the paired probe's AUROC is the binary AUROC, same folds
                row.update(pp.row(x[_task_rows(ctx, pp)]))
            if t.can_bin and "binary_auroc" not in row:
                row["binary_auroc"] = pr.binary_auroc(x[cn], y_bin, t.g_bin, seed=seed)
            if t.can8:
                sc = pr.multiclass_scores(x[cl], y8, t.g8, seed=seed)
                row["eight_macro_auroc"] = sc["macro_auroc"]
                row["eight_accuracy"] = sc["accuracy"]
                if kr.any() and len(np.unique(frame.loc[kr, "source_emotion"])) >= 3:
                    tr = pr.transfer(x[kr], frame.loc[kr, "source_emotion"].to_numpy(), x[cl],
                                     y8, seed=seed)
                    row["transfer_k_to_c_accuracy"] = tr["accuracy"]
            if t.can_bin and kn.any() and (frame.loc[kn, "split"] == "keyword_rich").any():
                yk = (frame.loc[kn, "split"] == "keyword_rich").to_numpy(int)
                p = pr.transfer_proba(x[kn], yk, x[cn], seed=seed)
                row["transfer_k_to_c_binary_auroc"] = pr.auroc(y_bin, p)
                if len(cn_pairs):
                    row["transfer_k_to_c_pair_win_rate"] = float(np.mean(pair_wins(
                        p[cn_pairs.upper], p[cn_pairs.lower])))
            rows.append(row)
        if t.paired is not None and t.can_bin:  # the attention and MLP outputs, paired only
            for kind in ("attn", "mlp"):
                xs = ctx.cap.get(kind, layer, "final")[_task_rows(ctx, t.paired)]
                rows.append({"layer": layer, "position": "final", "site": kind,
                             **t.paired.row(xs)})
    return pd.DataFrame(rows)


def _binary_summary(ctx: RunContext, fin: pd.DataFrame, t: _ProbeTargets) -> Section:
    frame, cfg = ctx.frame, ctx.cfg
    cn, y_bin, g_bin = t.cn, t.y_bin, t.g_bin
    best_row = fin.loc[fin["binary_auroc"].idxmax()]
    best = int(best_row["layer"])
    peak = float(best_row["binary_auroc"])
    sat = int(fin.loc[fin["binary_auroc"] >= 0.98 * peak, "layer"].min())
    x = ctx.cap.get("resid", best, "final")
    out: Section = {
        "auroc_by_layer": {int(r.layer): round(float(r.binary_auroc), 4)
                           for r in fin.itertuples()},
        "best_layer": best, "best_auroc": peak, "saturation_layer": sat,
        "permutation_null": pr.permutation_null(x[cn], y_bin, g_bin, peak, cfg.n_permutations,
                                                cfg.seed),
        "baselines": pr.baselines(frame.loc[cn, "text"].tolist(),
                                  frame.loc[cn, "word_count"].to_numpy(float), y_bin, g_bin,
                                  seed=cfg.seed)}
    if "transfer_k_to_c_binary_auroc" in fin:
        out["transfer_k_to_c_auroc_at_best"] = float(
            fin.loc[fin["layer"] == best, "transfer_k_to_c_binary_auroc"].iloc[0])
    if "transfer_k_to_c_pair_win_rate" in fin:
        out["transfer_k_to_c_pair_win_rate_at_best"] = float(
            fin.loc[fin["layer"] == best, "transfer_k_to_c_pair_win_rate"].iloc[0])
    if t.paired is not None:
        out["paired"] = _paired_summary(ctx, fin, t.paired, "clinical vs neutral")
    return out


def _paired_by_site(table: pd.DataFrame) -> Section:
    """Per site (residual stream, attention and MLP outputs; final token): the layer of the
    highest pair win rate and its figures."""
    out: Section = {}
    for site, sub in table[table["position"] == "final"].groupby("site", sort=False):
        best = sub.sort_values(["binary_pair_win_rate", "binary_difference_accuracy",
                                "binary_auroc", "layer"],
                               ascending=[False, False, False, True]).iloc[0]
        out[str(site)] = {"best_layer": int(best["layer"]),
                          "win_rate": float(best["binary_pair_win_rate"]),
                          "difference_accuracy": float(best["binary_difference_accuracy"]),
                          "auroc": float(best["binary_auroc"]),
                          "win_rate_by_layer": {int(r.layer): round(float(
                              r.binary_pair_win_rate), 4) for r in sub.itertuples()}}
    return out


def _paired_summary(ctx: RunContext, fin: pd.DataFrame, pp: PairedProbing, task: str
                    ) -> Section:
    rows = _task_rows(ctx, pp)
    return pp.summary(fin, lambda layer: ctx.cap.get("resid", layer, "final")[rows],
                      task).to_dict()


def _eight_class_summary(ctx: RunContext, fin: pd.DataFrame, t: _ProbeTargets) -> Section:
    frame, cl, y8 = ctx.frame, t.cl, t.y8
    b8 = fin.loc[fin["eight_macro_auroc"].idxmax()]
    out: Section = {
        "macro_auroc_by_layer": {int(r.layer): round(float(r.eight_macro_auroc), 4)
                                 for r in fin.itertuples()},
        "best_layer": int(b8["layer"]), "best_macro_auroc": float(b8["eight_macro_auroc"]),
        "accuracy_at_best": float(b8["eight_accuracy"]), "chance": 1 / len(np.unique(y8)),
        "baselines": pr.baselines(frame.loc[cl, "text"].tolist(),
                                  frame.loc[cl, "word_count"].to_numpy(float), y8, t.g8,
                                  multiclass=True, seed=ctx.cfg.seed)}
    if "transfer_k_to_c_accuracy" in fin:
        out["transfer_k_to_c_accuracy_at_best"] = float(b8["transfer_k_to_c_accuracy"])
    return out


def probing(ctx: RunContext) -> StepOutput:
    """Linear probes per layer (grouped folds), with baselines and a permutation null at the
    best layer."""
    targets = _probe_targets(ctx.frame, ctx.cfg.seed)
    table = _probe_table(ctx, targets)
    out: Section = {"folds": "5, grouped by scenario", "position_default": "final"}
    fin = table[(table["position"] == "final") & (table["site"] == "resid")]
    if targets.can_bin:
        out["binary"] = _binary_summary(ctx, fin, targets)
        if targets.paired is not None:
            out["binary"]["paired"]["by_site"] = _paired_by_site(table)
        if targets.moderate is not None:
            out["moderate"] = {"paired": _paired_summary(ctx, fin, targets.moderate,
                                                         "moderate vs neutral")}
    if targets.can8:
        out["eight_class"] = _eight_class_summary(ctx, fin, targets)
    return StepOutput(out, table)


def readout_layers(probing_section: Section | None, layers: list[int]) -> tuple[int, int]:
    """(best binary layer, best 8-class layer) by probing; the last layer without probes."""
    p = probing_section or {}
    best = p.get("binary", {}).get("best_layer", layers[-1])
    return best, p.get("eight_class", {}).get("best_layer", best)


# ---- patching --------------------------------------------------------------------------------

def _exact_rows(kind: str, exact: pt.ExactPatching[Site]) -> list[Row]:
    denom = float(np.mean(exact.ld_source - exact.ld_target))
    return [{"pair_type": kind, "site": s.kind, "layer": s.layer,
             "effect_mean": float(r.effect.mean()),
             "normalised_effect": float(r.effect.mean() / denom)
             if abs(denom) > 1e-9 else float("nan"),
             "top1_success": float(r.top1.mean())} for s, r in exact.sites.items()]


def _top_sites(table: pd.DataFrame, kind: str) -> list[Section]:
    sub = table[table["pair_type"] == kind]
    top = sub.sort_values("normalised_effect", ascending=False).head(5)
    return [{"site": r.site, "layer": int(r.layer),
             "normalised_effect": round(float(r.normalised_effect), 4),
             "top1_success": round(float(r.top1_success), 4)} for r in top.itertuples()]


def _overall_agreement(exact: dict[tuple, np.ndarray], attr: dict[tuple, np.ndarray]
                       ) -> Section:
    from scipy.stats import pearsonr, spearmanr

    keys = sorted(set(exact) & set(attr))
    e = np.concatenate([exact[k] for k in keys])
    a = np.concatenate([attr[k] for k in keys])
    return {"pearson": float(pearsonr(e, a).statistic),
            "spearman": float(spearmanr(e, a).statistic), "n": len(e)}


# results.json prefix of each attribution method: AtP keeps the keys it has always had
_ATTR_PREFIX = {"atp": "attribution", "relp": "relp"}


def _by_site_kind(exact: dict[tuple, np.ndarray], attr: dict[tuple, np.ndarray]
                  ) -> dict[str, Section]:
    """Agreement per site kind, pooled over the pair types (keys are (pair type, kind, layer))."""
    return {kind: _overall_agreement({k: v for k, v in exact.items() if k[1] == kind}, attr)
            for kind in sorted({k[1] for k in exact})}


def _top_k_overlaps(exact: pt.ExactPatching[Site], attrs: dict[str, dict[Site, np.ndarray]]
                    ) -> dict[str, Section]:
    """Per site kind (and ``all``): k, the number of sites, and each method's top-k overlap."""
    out: dict[str, Section] = {}
    for method, attr in attrs.items():
        for group, o in pt.top_k_overlap(exact.sites, attr).items():
            out.setdefault(group, {"k": o["k"], "n_sites": o["n_sites"]})[method] = o["overlap"]
    return out


def _attributions(ctx: RunContext, kind: str, pairs: pt.PatchPairs,
                  src_acts: dict[Site, np.ndarray], exact: pt.ExactPatching[Site] | None,
                  entry: Section, rows: list[Row], times: dict[str, float]
                  ) -> dict[str, dict[Site, np.ndarray]]:
    """AtP and RelP scores for one pair type, compared with exact patching when it ran."""
    attrs = {}
    for method in relp.ATTRIBUTION_METHODS:
        t0 = time.perf_counter()
        # the backward runs through the final token only and asks for no parameter
        # gradients, so a whole batch fits (it was one prompt at a time: a whole-prompt
        # backward with parameter gradients cost +1.7 GB at 1 SmolLM2 prompt, +2.5 GB at 4)
        attrs[method] = relp.attribution(ctx.loaded, pairs, ctx.sites, src_acts, ctx.lids,
                                         ctx.cfg.batch_size, method)
        times[method] += time.perf_counter() - t0
        if exact is None:
            continue
        prefix = _ATTR_PREFIX[method]
        entry[f"{prefix}_vs_exact"] = pt.agreement(exact.sites, attrs[method])
        for row in rows:
            if row["pair_type"] == kind:
                row[f"{prefix}_mean"] = float(
                    attrs[method][Site(row["site"], row["layer"])].mean())
    if exact is not None:
        entry["top_k_overlap"] = _top_k_overlaps(exact, attrs)
    return attrs


def _attribution_summary(out: Section, all_exact: dict[tuple, np.ndarray],
                         all_attr: dict[str, dict[tuple, np.ndarray]], t_exact: float,
                         times: dict[str, float]) -> None:
    """Pooled agreement (overall and per site kind), wall times and speed-ups of each method."""
    out["wall_time_s"] = {"exact": round(t_exact, 2)}
    for method, prefix in _ATTR_PREFIX.items():
        if all_exact and all_attr[method]:
            out[f"{prefix}_vs_exact_overall"] = _overall_agreement(all_exact, all_attr[method])
            out[f"{prefix}_vs_exact_by_site_kind"] = _by_site_kind(all_exact, all_attr[method])
        out["wall_time_s"][prefix] = round(times[method], 2)
        if times[method] > 0 and t_exact > 0:
            out[f"{prefix}_speedup"] = round(t_exact / times[method], 2)
    if any(all_attr.values()):
        out["relp_rules"] = relp.RULES


def patching(ctx: RunContext) -> StepOutput:
    """Exact patching and attribution patching (AtP and RelP) over every site, per pair type."""
    cfg, cap = ctx.cfg, ctx.cap
    out: Section = {"score": "logit difference source label - target label at the final "
                    "token; effect = patched - clean target", "pair_types": {}}
    rows: list[Row] = []
    t_exact = 0.0
    times = {m: 0.0 for m in relp.ATTRIBUTION_METHODS}
    all_exact: dict[tuple, np.ndarray] = {}
    all_attr: dict[str, dict[tuple, np.ndarray]] = {m: {} for m in relp.ATTRIBUTION_METHODS}
    for kind in PAIR_KINDS:
        pairs = patch_pairs(ctx.frame, ctx.prompts, kind, cfg.patch_pairs, cfg.seed)
        if pairs is None:
            continue
        src_acts = {s: cap.at(s)[[ctx.idx[i] for i in pairs.source_ids]] for s in ctx.sites}
        entry: Section = {"n_pairs": len(pairs.source_ids)}
        exact = None
        if "patching" in cfg.methods:
            t0 = time.perf_counter()
            exact = pt.exact_patching(ctx.loaded, pairs, ctx.sites, src_acts, ctx.lids,
                                      cfg.batch_size, cfg.progress)
            t_exact += time.perf_counter() - t0
            entry["clean_ld_target_mean"] = float(exact.ld_target.mean())
            entry["clean_ld_source_mean"] = float(exact.ld_source.mean())
            rows += _exact_rows(kind, exact)
            all_exact.update({(kind, *s): r.effect for s, r in exact.sites.items()})
        if "attribution" in cfg.methods:
            attrs = _attributions(ctx, kind, pairs, src_acts, exact, entry, rows, times)
            for method, attr in attrs.items():
                all_attr[method].update({(kind, *s): a for s, a in attr.items()})
        out["pair_types"][kind] = entry
    table = pd.DataFrame(rows)
    if len(table):
        for kind in out["pair_types"]:
            out["pair_types"][kind]["top_sites"] = _top_sites(table, kind)
    _attribution_summary(out, all_exact, all_attr, t_exact, times)
    return StepOutput(out, table, {"patching_exact_s": t_exact,
                                   "patching_attribution_s": times["atp"],
                                   "patching_relp_s": times["relp"]})


# ---- knockout --------------------------------------------------------------------------------

@dataclass
class _KnockoutScorer:
    """Scores one (ablated) run: the emotion-vs-none logit difference of the clinical half and
    the frozen probe's AUROC on the read-out activations."""

    n_clinical: int
    emo: np.ndarray
    y: np.ndarray
    probe: Any

    def __call__(self, logits: np.ndarray, read: np.ndarray) -> tuple[float, float]:
        from sklearn.metrics import roc_auc_score

        n = self.n_clinical
        ld = (float(np.mean(logits[:n][np.arange(n), self.emo] - logits[:n, LABEL_INDEX["none"]]))
              if logits.size else float("nan"))
        return ld, float(roc_auc_score(self.y, self.probe.predict_proba(read)[:, 1]))


def _critical(table: pd.DataFrame, cfg: AnalyzeConfig, with_logits: bool
              ) -> dict[str, list[int]]:
    out = {}
    key = "ld_drop" if with_logits else "probe_auroc_drop"
    for method in cfg.knockout_methods:
        for kind in ("attn", "mlp"):
            sub = table[(table["method"] == method) & (table["site"] == kind)]
            drops = {int(r.layer): float(getattr(r, key)) for r in sub.itertuples()
                     if getattr(r, key) == getattr(r, key)}
            out[f"{method}/{kind}"] = ko.critical_layers(drops)
    return out


def _clean_record(ctx: RunContext, prompts: list[Prompt], layers: range
                  ) -> CleanTails | list[dict[int, Any]]:
    """Clean block outputs to replay in edited runs: over the tails when the prompts share an
    opening (it then runs once a batch), else over whole prompts."""
    return record_clean_tails(ctx.loaded, prompts, layers, ctx.cfg.batch_size) or \
        record_prefix(ctx.loaded, prompts, layers, ctx.cfg.batch_size)


def knockout(ctx: RunContext) -> StepOutput:
    """Ablate each attention and MLP output (zero / mean / resample) on clinical-neutral pairs;
    score the logit difference and a frozen probe at the best probing layer."""
    frame, cfg, readout_layer = ctx.frame, ctx.cfg, ctx.best
    clinical = clinical_with_neutral(frame, ctx.idx)
    # at most half the pairs: the frozen probe trains on the pairs that are not ablated
    chosen = even_sample(clinical, min(cfg.knockout_items, len(clinical) // 2), cfg.seed)
    items = chosen + [sibling_id(c, "neutral") for c in chosen]
    ps = [ctx.prompts[i] for i in items]
    # frozen probe at the read-out layer, trained on every clinical/neutral item not ablated
    cn = _split(frame, "clinical", "neutral") & ~frame["id"].isin(items)
    x_read = ctx.cap.get("resid", readout_layer, "final")
    probe = pr.probe_pipeline(seed=cfg.seed).fit(
        x_read[cn], (frame.loc[cn, "split"] == "clinical").to_numpy(int))
    scores = _KnockoutScorer(len(chosen), np.array([LABEL_INDEX[str(parse_id(c).emotion)]
                                                    for c in chosen]),
                             np.array([1] * len(chosen) + [0] * len(chosen)), probe)
    clean_read = x_read[[ctx.idx[i] for i in items]]
    clean_logits = (np.zeros((len(items), 0)) if not ctx.lids else
                    pt.label_logits(ctx.loaded, ps, ctx.lids, batch_size=cfg.batch_size))
    base_ld, base_auc = scores(clean_logits, clean_read)
    sites = [Site(k, layer) for layer in ctx.layers for k in ("attn", "mlp")]
    means = ko.site_means(ctx.loaded, ps, sites, cfg.batch_size) \
        if "mean" in cfg.knockout_methods else {}
    # the blocks before an ablated one are replayed from one clean pass, not recomputed
    prefix = _clean_record(ctx, ps, range(max(ctx.layers)))
    rows = []
    for site in sites:
        readout = Site("resid", readout_layer) if site.layer <= readout_layer else None
        for method in cfg.knockout_methods:
            # the logit difference is scored on the clinical half only
            logits, read = ko.ablated_run(ctx.loaded, ps, site, method, ctx.lids, readout,
                                          means.get(site), cfg.batch_size, cfg.seed, prefix,
                                          logit_rows=range(len(chosen)))
            ld, auc = scores(logits, read) if read is not None else (
                scores(logits, clean_read)[0], float("nan"))
            rows.append({"site": site.kind, "layer": site.layer, "method": method,
                         "ld": ld, "ld_drop": base_ld - ld, "probe_auroc": auc,
                         "probe_auroc_drop": base_auc - auc if read is not None else float("nan")})
    table = pd.DataFrame(rows)
    return StepOutput({"n_items": len(items), "readout_layer": readout_layer,
                       "clean_ld": base_ld, "clean_probe_auroc": base_auc,
                       "critical_layers": _critical(table, cfg, bool(ctx.lids))}, table)


# ---- geometry --------------------------------------------------------------------------------

def geometry(ctx: RunContext) -> StepOutput:
    """RSA against the wheel and silhouettes at the best 8-class probing layer."""
    frame, layer = ctx.frame, ctx.best8
    x_all = ctx.cap.get("resid", layer, "final")
    cl = _split(frame, "clinical")
    res: Section = {"layer": layer}
    if len(np.unique(frame.loc[cl, "source_emotion"])) == len(EMOTIONS):
        with_emotion = frame["source_emotion"].notna().to_numpy()
        groupings = {"emotion": frame.loc[with_emotion, "source_emotion"].to_numpy(),
                     "split": frame.loc[with_emotion, "split"].to_numpy(),
                     "domain": frame.loc[with_emotion, "domain"].astype(int).to_numpy()}
        res.update(geo.geometry(x_all[cl], frame.loc[cl, "source_emotion"].to_numpy(),
                                x_all[with_emotion], groupings, seed=ctx.cfg.seed))
    else:
        res["note"] = "RSA needs clinical items of all eight emotions"
    return StepOutput(res)


# ---- steering --------------------------------------------------------------------------------

def _directions(ctx: RunContext, xc: np.ndarray, train: list[tuple[str, str]], layer: int
                ) -> dict[str, np.ndarray]:
    c_idx = [ctx.idx[c] for c, _ in train]
    n_idx = [ctx.idx[n] for _, n in train]
    directions = {"affect": st.direction(xc[c_idx], xc[n_idx])}
    if layer == ctx.best:  # emotion-specific directions at the best probing layer only
        for e in EMOTIONS:
            ce = [ctx.idx[c] for c, _ in train if parse_id(c).emotion == e]
            ne = [ctx.idx[n] for c, n in train if parse_id(c).emotion == e]
            if ce:
                directions[e] = st.direction(xc[ce], xc[ne])
    return directions


def _steering_rows(ctx: RunContext, layer: int, train: list[tuple[str, str]],
                   targets: list[Prompt], prefix: list[dict[int, Any]]) -> list[Row]:
    cfg, none = ctx.cfg, LABEL_INDEX["none"]
    xc = ctx.cap.get("resid", layer, "final")
    scale = float(np.linalg.norm(xc[[ctx.idx[n] for _, n in train]], axis=1).mean())
    directions = _directions(ctx, xc, train, layer)
    base = st.softmax(st.steered_logits(ctx.loaded, targets, layer, directions["affect"], 0.0,
                                        ctx.lids, cfg.batch_size, prefix))
    rows = []
    for name, vec in directions.items():
        for s in cfg.steering_strengths:
            p = base if s == 0 else st.softmax(st.steered_logits(
                ctx.loaded, targets, layer, vec * scale, s, ctx.lids, cfg.batch_size, prefix))
            row = {"layer": layer, "direction": name, "strength": s,
                   "p_none": float(p[:, none].mean()),
                   "p_any_emotion": float(1 - p[:, none].mean())}
            if name != "affect":
                row["p_target_emotion"] = float(p[:, LABEL_INDEX[name]].mean())
            rows.append(row)
    return rows


def _steering_summary(table: pd.DataFrame, strengths: tuple[float, ...]) -> Section:
    out: Section = {}
    top_strength = max(strengths)
    aff = table[table["direction"] == "affect"]
    base = aff[aff["strength"] == 0]
    top = aff[aff["strength"] == top_strength]
    out["affect_p_any_emotion"] = {int(r.layer): {"baseline": round(float(
        base.loc[base["layer"] == r.layer, "p_any_emotion"].iloc[0]), 4),
        "max_strength": round(float(r.p_any_emotion), 4)} for r in top.itertuples()}
    emo = table[(table["direction"] != "affect")]
    if len(emo):
        gains = []
        for (layer, d), g in emo.groupby(["layer", "direction"]):
            b = float(g.loc[g["strength"] == 0, "p_target_emotion"].iloc[0])
            t = float(g.loc[g["strength"] == top_strength, "p_target_emotion"].iloc[0])
            gains.append({"layer": int(layer), "emotion": d, "gain": t - b})
        gdf = pd.DataFrame(gains)
        out["emotion_direction_mean_gain_by_layer"] = {
            int(k): round(float(v), 4) for k, v in gdf.groupby("layer")["gain"].mean().items()}
    return out


def steering(ctx: RunContext) -> StepOutput:
    """Difference-of-means steering of held-out neutral prompts at a quarter, half and three
    quarters of the depth and at the best probing layer."""
    cfg = ctx.cfg
    pairs = [(c, sibling_id(c, "neutral")) for c in clinical_with_neutral(ctx.frame, ctx.idx)]
    # steer held-out neutrals: at most half the pairs, so directions always have training pairs
    held = even_sample([c for c, _ in pairs], min(cfg.steering_items, len(pairs) // 2),
                       cfg.seed)
    targets = [ctx.prompts[sibling_id(c, "neutral")] for c in held]
    held_out = set(held)
    train = [(c, n) for c, n in pairs if c not in held_out]
    n_layers = ctx.loaded.n_layers
    chosen = sorted({layer for layer in (n_layers // 4, n_layers // 2, 3 * n_layers // 4,
                                         ctx.best) if layer in ctx.layers})
    # blocks up to the steered one are replayed from one clean pass over the targets
    prefix = _clean_record(ctx, targets, range(max(chosen) + 1)) if chosen and train else []
    rows = [row for layer in chosen if train
            for row in _steering_rows(ctx, layer, train, targets, prefix)]
    table = pd.DataFrame(rows)
    out: Section = {"layers": chosen, "n_neutral_prompts": len(targets),
                    "strengths_in_units_of_mean_residual_norm": list(cfg.steering_strengths)}
    if len(table):
        out.update(_steering_summary(table, cfg.steering_strengths))
    return StepOutput(out, table)
