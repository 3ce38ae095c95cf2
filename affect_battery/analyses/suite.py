"""The reference analyses as one run: ``run_suite(AnalyzeConfig(model=...))``.

Captures every requested site once (cached on disk), then runs probing, patching (exact and
attribution), knockout, geometry and steering, and writes ``results.json`` (versioned, with a
``headline`` block the dataset card can quote), CSV tables, PNG figures and ``report.md``.
Logit-based methods need a language-model head; on an encoder they are skipped with a note.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..core.battery import battery_frame
from ..core.constants import EMOTIONS, SPLITS
from ..core.digest import battery_digest
from ..core.ids import parse_id
from . import geometry as geo
from . import knockout as ko
from . import patching as pt
from . import probing as pr
from . import steering as st
from .capture import cached_capture
from .models import cache_dir, load_model
from .prompts import ANSWER_LABELS, build_prompt, label_token_ids

RESULTS_SCHEMA_VERSION = 1
METHODS = ("probing", "patching", "attribution", "knockout", "geometry", "steering")


@dataclass
class AnalyzeConfig:
    model: str
    out: str = "analysis"
    methods: tuple[str, ...] = METHODS
    layers: list[int] | None = None
    splits: tuple[str, ...] = SPLITS
    preset: str = "two_shot"
    device: str = "cpu"
    dtype: str = "float32"
    batch_size: int = 16
    seed: int = 0
    patch_pairs: int = 8
    knockout_items: int = 8
    knockout_methods: tuple[str, ...] = ko.METHODS
    steering_strengths: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    steering_items: int = 16
    n_permutations: int = 50
    use_cache: bool = True
    trust_remote_code: bool = False
    max_items: int | None = None
    progress: bool = False
    timings: dict[str, float] = field(default_factory=dict)


def _scenario(i: str) -> str:
    return parse_id(i).scenario


def _select(frame: pd.DataFrame, cfg: AnalyzeConfig) -> pd.DataFrame:
    frame = frame[frame["split"].isin(cfg.splits)].reset_index(drop=True)
    if cfg.max_items is not None:
        # keep whole scenarios, spread over emotions, so pairs and folds stay intact
        order = frame.drop_duplicates("id").assign(sc=frame["id"].map(_scenario))
        per_emotion = [list(dict.fromkeys(order.loc[order["source_emotion"] == emo, "sc"]))
                       for emo in EMOTIONS]
        scen = [s for rank in range(max(map(len, per_emotion), default=0))
                for lst in per_emotion if rank < len(lst) for s in [lst[rank]]]
        keep = frame["id"].map(_scenario).isin(scen[: max(1, cfg.max_items // 2)])
        frame = frame[keep | (frame["split"] == "complex_neutral")].head(cfg.max_items * 2)
        frame = frame.reset_index(drop=True)
    return frame


def _even_sample(ids: list[str], n: int) -> list[str]:
    """Up to n ids, spread over emotions (round-robin in wheel order), deterministic."""
    by_emo: dict[str, list[str]] = {e: [] for e in EMOTIONS}
    for i in ids:
        by_emo[i.split("-")[1]].append(i)
    out: list[str] = []
    k = 0
    while len(out) < n and any(by_emo.values()):
        e = EMOTIONS[k % len(EMOTIONS)]
        if by_emo[e]:
            out.append(by_emo[e].pop(0))
        k += 1
    return out


def run_suite(cfg: AnalyzeConfig) -> dict[str, Any]:
    t_start = time.perf_counter()
    unknown = set(cfg.methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(sorted(unknown))}: use "
                         f"{', '.join(METHODS)}")
    full = battery_frame()
    frame = _select(full, cfg)
    t0 = time.perf_counter()
    loaded = load_model(cfg.model, cfg.device, cfg.dtype, cfg.trust_remote_code)
    cfg.timings["load_model_s"] = time.perf_counter() - t0
    n_layers = loaded.n_layers
    layers = cfg.layers if cfg.layers is not None else list(range(n_layers))
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad:
        raise ValueError(f"layers {bad} out of range: the model has {n_layers} layers "
                         f"(0-{n_layers - 1})")
    causal = loaded.kind == "causal"
    preset = cfg.preset if causal else "raw"
    prompts = {i: build_prompt(t, preset) for i, t in zip(frame["id"], frame["text"],
                                                           strict=True)}
    label_ids = label_token_ids(loaded.tokenizer) if causal else None
    ids = list(frame["id"])
    sites = [(k, layer) for layer in layers for k in ("resid", "attn", "mlp")]
    t0 = time.perf_counter()
    cap, hit = cached_capture(
        loaded, [prompts[i] for i in ids], sites, ("final", "mean"),
        {"model": cfg.model, "revision": loaded.revision, "battery": battery_digest(full),
         "version": __version__, "preset": preset, "dtype": cfg.dtype},
        cache_dir() / "activations" if cfg.use_cache else None, cfg.batch_size,
        list(label_ids.values()) if label_ids else None, cfg.progress)
    cfg.timings["capture_s"] = time.perf_counter() - t0
    idx = {i: k for k, i in enumerate(ids)}
    results: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION, "affect_battery_version": __version__,
        "model": {"id": cfg.model, "source": loaded.source, "revision": loaded.revision,
                  "kind": loaded.kind, "n_layers": n_layers,
                  "hidden_size": int(loaded.model.config.hidden_size),
                  "device": loaded.device, "dtype": cfg.dtype},
        "battery": {"sha256": battery_digest(full), "n_items": len(frame),
                    "splits": {s: int((frame["split"] == s).sum()) for s in SPLITS}},
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("timings", "progress")},
        "prompt_preset": preset, "activation_cache_hit": hit, "layers": layers,
    }
    tables: dict[str, pd.DataFrame] = {}
    if causal and cap.final_logits is not None:
        results["behaviour"] = _behaviour(frame, cap.final_logits)
    if "probing" in cfg.methods:
        t0 = time.perf_counter()
        results["probing"], tables["probing_by_layer"] = _probing(frame, cap, layers, cfg)
        cfg.timings["probing_s"] = time.perf_counter() - t0
    best = (results.get("probing", {}).get("binary", {}).get("best_layer", layers[-1]))
    best8 = (results.get("probing", {}).get("eight_class", {}).get("best_layer", best))
    need_logits = {"patching", "attribution", "knockout", "steering"} & set(cfg.methods)
    if need_logits and not causal:
        results["skipped"] = {m: "needs a language-model head" for m in sorted(need_logits)
                              if m != "knockout"}
    if causal and ({"patching", "attribution"} & set(cfg.methods)):
        results["patching"], tables["patching_sites"] = _patching(
            loaded, frame, prompts, cap, idx, sites, label_ids, cfg)
    if "knockout" in cfg.methods:
        t0 = time.perf_counter()
        results["knockout"], tables["knockout"] = _knockout(
            loaded, frame, prompts, cap, idx, layers, best, label_ids, cfg)
        cfg.timings["knockout_s"] = time.perf_counter() - t0
    if "geometry" in cfg.methods:
        t0 = time.perf_counter()
        results["geometry"] = _geometry(frame, cap, idx, best8)
        cfg.timings["geometry_s"] = time.perf_counter() - t0
    if causal and "steering" in cfg.methods:
        t0 = time.perf_counter()
        results["steering"], tables["steering"] = _steering(
            loaded, frame, prompts, cap, idx, layers, best, label_ids, cfg)
        cfg.timings["steering_s"] = time.perf_counter() - t0
    cfg.timings["total_s"] = time.perf_counter() - t_start
    results["timings_s"] = {k: round(v, 2) for k, v in cfg.timings.items()}
    results["headline"] = headline(results)
    from .report import write_run

    write_run(Path(cfg.out), results, tables, frame, cap, idx, best8)
    return results


# ---- methods ---------------------------------------------------------------------------------

def _behaviour(frame: pd.DataFrame, logits: np.ndarray) -> dict[str, Any]:
    pred = np.array(ANSWER_LABELS)[logits.argmax(axis=1)]
    out = {}
    for split in ("clinical", "neutral", "moderate", "keyword_rich", "complex_neutral"):
        m = (frame["split"] == split).to_numpy()
        if not m.any():
            continue
        want = (frame.loc[m, "source_emotion"].to_numpy() if split in ("clinical",
                "moderate", "keyword_rich") else np.array(["none"] * int(m.sum())))
        out[split] = {"accuracy": float(np.mean(pred[m] == want)), "n": int(m.sum()),
                      "answered_none": float(np.mean(pred[m] == "none"))}
    return out


def _probing(frame: pd.DataFrame, cap: Any, layers: list[int], cfg: AnalyzeConfig
             ) -> tuple[dict[str, Any], pd.DataFrame]:
    cn = frame["split"].isin(["clinical", "neutral"]).to_numpy()
    y_bin = (frame.loc[cn, "split"] == "clinical").to_numpy(int)
    g_bin = frame.loc[cn, "id"].map(_scenario).to_numpy()
    cl = (frame["split"] == "clinical").to_numpy()
    y8 = frame.loc[cl, "source_emotion"].to_numpy()
    g8 = frame.loc[cl, "id"].map(_scenario).to_numpy()
    kr = (frame["split"] == "keyword_rich").to_numpy()
    kn = frame["split"].isin(["keyword_rich", "neutral"]).to_numpy()
    rows = []
    can_bin = len(np.unique(y_bin)) == 2 and len(np.unique(g_bin)) >= 5
    can8 = len(np.unique(y8)) >= 3 and len(y8) >= 10
    for layer in layers:
        for pos in ("final", "mean"):
            x = cap.get("resid", layer, pos)
            row: dict[str, Any] = {"layer": layer, "position": pos}
            if can_bin:
                row["binary_auroc"] = pr.binary_auroc(x[cn], y_bin, g_bin)
            if can8:
                sc = pr.multiclass_scores(x[cl], y8, g8)
                row["eight_macro_auroc"] = sc["macro_auroc"]
                row["eight_accuracy"] = sc["accuracy"]
                if kr.any() and len(np.unique(frame.loc[kr, "source_emotion"])) >= 3:
                    t = pr.transfer(x[kr], frame.loc[kr, "source_emotion"].to_numpy(), x[cl], y8)
                    row["transfer_k_to_c_accuracy"] = t["accuracy"]
            if can_bin and kn.any() and (frame.loc[kn, "split"] == "keyword_rich").any():
                yk = (frame.loc[kn, "split"] == "keyword_rich").to_numpy(int)
                t = pr.transfer(x[kn], yk, x[cn], y_bin)
                row["transfer_k_to_c_binary_auroc"] = t["auroc"]
            rows.append(row)
    table = pd.DataFrame(rows)
    out: dict[str, Any] = {"folds": "5, grouped by scenario", "position_default": "final"}
    fin = table[table["position"] == "final"]
    if can_bin:
        best_row = fin.loc[fin["binary_auroc"].idxmax()]
        best = int(best_row["layer"])
        peak = float(best_row["binary_auroc"])
        sat = int(fin.loc[fin["binary_auroc"] >= 0.98 * peak, "layer"].min())
        x = cap.get("resid", best, "final")
        out["binary"] = {
            "auroc_by_layer": {int(r.layer): round(float(r.binary_auroc), 4)
                               for r in fin.itertuples()},
            "best_layer": best, "best_auroc": peak, "saturation_layer": sat,
            "permutation_null": pr.permutation_null(x[cn], y_bin, g_bin, peak,
                                                    cfg.n_permutations, cfg.seed),
            "baselines": pr.baselines(frame.loc[cn, "text"].tolist(),
                                      frame.loc[cn, "word_count"].to_numpy(float), y_bin,
                                      g_bin)}
        if "transfer_k_to_c_binary_auroc" in fin:
            out["binary"]["transfer_k_to_c_auroc_at_best"] = float(
                fin.loc[fin["layer"] == best, "transfer_k_to_c_binary_auroc"].iloc[0])
    if can8:
        b8 = fin.loc[fin["eight_macro_auroc"].idxmax()]
        out["eight_class"] = {
            "macro_auroc_by_layer": {int(r.layer): round(float(r.eight_macro_auroc), 4)
                                     for r in fin.itertuples()},
            "best_layer": int(b8["layer"]), "best_macro_auroc": float(b8["eight_macro_auroc"]),
            "accuracy_at_best": float(b8["eight_accuracy"]), "chance": 1 / len(np.unique(y8)),
            "baselines": pr.baselines(frame.loc[cl, "text"].tolist(),
                                      frame.loc[cl, "word_count"].to_numpy(float), y8, g8,
                                      multiclass=True)}
        if "transfer_k_to_c_accuracy" in fin:
            out["eight_class"]["transfer_k_to_c_accuracy_at_best"] = float(
                b8["transfer_k_to_c_accuracy"])
    return out, table


def _pairs(frame: pd.DataFrame, prompts: dict, kind: str, n: int) -> pt.PatchPairs | None:
    ids = set(frame["id"])
    lab = {e: k for k, e in enumerate(ANSWER_LABELS)}
    src, tgt, sl, tl = [], [], [], []
    clinical = [i for i in frame.loc[frame["split"] == "clinical", "id"]]
    if kind == "clinical_to_neutral":
        cands = [c for c in clinical if "N" + c[1:] in ids]
        for c in _even_sample(cands, n):
            src.append(c)
            tgt.append("N" + c[1:])
            sl.append(lab[c.split("-")[1]])
            tl.append(lab["none"])
    elif kind == "within_clinical":
        for c in _even_sample(clinical, n):
            p = parse_id(c)
            nxt = EMOTIONS[(EMOTIONS.index(p.emotion) + 1) % len(EMOTIONS)]
            other = f"C-{nxt}-d{p.domain}-{p.n}"
            if other in ids:
                src.append(c)
                tgt.append(other)
                sl.append(lab[p.emotion])
                tl.append(lab[nxt])
    elif kind == "keyword_rich_to_clinical":
        cands = [k for k in frame.loc[frame["split"] == "keyword_rich", "id"]
                 if "C" + k[1:] in ids]
        for k in _even_sample(cands, n):
            src.append(k)
            tgt.append("C" + k[1:])
            sl.append(lab[k.split("-")[1]])
            tl.append(lab["none"])
    if not src:
        return None
    return pt.PatchPairs(kind, src, tgt, [prompts[i] for i in src], [prompts[i] for i in tgt],
                         np.array(sl), np.array(tl))


def _patching(loaded: Any, frame: pd.DataFrame, prompts: dict, cap: Any, idx: dict,
              sites: list, label_ids: dict, cfg: AnalyzeConfig
              ) -> tuple[dict[str, Any], pd.DataFrame]:
    lids = list(label_ids.values())
    out: dict[str, Any] = {"score": "logit difference source label - target label at the final "
                           "token; effect = patched - clean target", "pair_types": {}}
    rows = []
    t_exact = t_attr = 0.0
    all_exact, all_attr = {}, {}
    for kind in ("clinical_to_neutral", "within_clinical", "keyword_rich_to_clinical"):
        pairs = _pairs(frame, prompts, kind, cfg.patch_pairs)
        if pairs is None:
            continue
        src_acts = {s: cap.get(s[0], s[1], "final")[[idx[i] for i in pairs.source_ids]]
                    for s in sites}
        entry: dict[str, Any] = {"n_pairs": len(pairs.source_ids)}
        exact = None
        if "patching" in cfg.methods:
            t0 = time.perf_counter()
            exact = pt.exact_patching(loaded, pairs, sites, src_acts, lids, cfg.batch_size,
                                      cfg.progress)
            t_exact += time.perf_counter() - t0
            denom = float(np.mean(exact["ld_source"] - exact["ld_target"]))
            entry["clean_ld_target_mean"] = float(exact["ld_target"].mean())
            entry["clean_ld_source_mean"] = float(exact["ld_source"].mean())
            for s, r in exact["sites"].items():
                rows.append({"pair_type": kind, "site": s[0], "layer": s[1],
                             "effect_mean": float(r["effect"].mean()),
                             "normalised_effect": float(r["effect"].mean() / denom)
                             if abs(denom) > 1e-9 else float("nan"),
                             "top1_success": float(r["top1"].mean())})
            for s, r in exact["sites"].items():
                all_exact[(kind, *s)] = r["effect"]
        if "attribution" in cfg.methods:
            t0 = time.perf_counter()
            attr = pt.attribution_patching(loaded, pairs, sites, src_acts, lids,
                                           max(1, cfg.batch_size // 2))
            t_attr += time.perf_counter() - t0
            for s, a in attr.items():
                all_attr[(kind, *s)] = a
            if exact is not None:
                entry["attribution_vs_exact"] = pt.agreement(exact["sites"], attr)
                for row in rows:
                    if row["pair_type"] == kind:
                        row["attribution_mean"] = float(attr[(row["site"], row["layer"])].mean())
        out["pair_types"][kind] = entry
    table = pd.DataFrame(rows)
    if len(table):
        for kind in out["pair_types"]:
            sub = table[table["pair_type"] == kind]
            top = sub.sort_values("normalised_effect", ascending=False).head(5)
            out["pair_types"][kind]["top_sites"] = [
                {"site": r.site, "layer": int(r.layer), "normalised_effect":
                 round(float(r.normalised_effect), 4), "top1_success": round(float(
                     r.top1_success), 4)} for r in top.itertuples()]
    if all_exact and all_attr:
        from scipy.stats import pearsonr, spearmanr

        keys = sorted(set(all_exact) & set(all_attr))
        e = np.concatenate([all_exact[k] for k in keys])
        a = np.concatenate([all_attr[k] for k in keys])
        out["attribution_vs_exact_overall"] = {"pearson": float(pearsonr(e, a).statistic),
                                               "spearman": float(spearmanr(e, a).statistic),
                                               "n": len(e)}
    out["wall_time_s"] = {"exact": round(t_exact, 2), "attribution": round(t_attr, 2)}
    if t_attr > 0 and t_exact > 0:
        out["attribution_speedup"] = round(t_exact / t_attr, 2)
    cfg.timings["patching_exact_s"] = t_exact
    cfg.timings["patching_attribution_s"] = t_attr
    return out, table


def _knockout(loaded: Any, frame: pd.DataFrame, prompts: dict, cap: Any, idx: dict,
              layers: list[int], readout_layer: int, label_ids: dict | None,
              cfg: AnalyzeConfig) -> tuple[dict[str, Any], pd.DataFrame]:
    clinical = [i for i in frame.loc[frame["split"] == "clinical", "id"]
                if "N" + i[1:] in idx]
    # at most half the pairs: the frozen probe trains on the pairs that are not ablated
    chosen = _even_sample(clinical, min(cfg.knockout_items, len(clinical) // 2))
    items = chosen + ["N" + c[1:] for c in chosen]
    ps = [prompts[i] for i in items]
    y = np.array([1] * len(chosen) + [0] * len(chosen))
    lab = {e: k for k, e in enumerate(ANSWER_LABELS)}
    emo = np.array([lab[c.split("-")[1]] for c in chosen])
    lids = list(label_ids.values()) if label_ids else []
    # frozen probe at the read-out layer, trained on every clinical/neutral item not ablated
    cn = frame["split"].isin(["clinical", "neutral"]).to_numpy() & ~frame["id"].isin(items)
    x_read = cap.get("resid", readout_layer, "final")
    probe = pr.probe_pipeline().fit(x_read[cn], (frame.loc[cn, "split"] == "clinical")
                                    .to_numpy(int))
    from sklearn.metrics import roc_auc_score

    def scores(logits: np.ndarray, read: np.ndarray) -> tuple[float, float]:
        ld = (float(np.mean(logits[:len(chosen)][np.arange(len(chosen)), emo]
                            - logits[:len(chosen), lab["none"]])) if logits.size else float("nan"))
        return ld, float(roc_auc_score(y, probe.predict_proba(read)[:, 1]))

    clean_read = x_read[[idx[i] for i in items]]
    clean_logits = (np.zeros((len(items), 0)) if not lids else
                    pt.label_logits(loaded, ps, lids, batch_size=cfg.batch_size))
    base_ld, base_auc = scores(clean_logits, clean_read)
    sites = [(k, layer) for layer in layers for k in ("attn", "mlp")]
    means = ko.site_means(loaded, ps, sites, cfg.batch_size) if "mean" in cfg.knockout_methods \
        else {}
    rows = []
    for kind, layer in sites:
        readout = ("resid", max(readout_layer, layer))
        if readout[1] != readout_layer:
            readout = ("resid", readout_layer) if layer <= readout_layer else None
        for method in cfg.knockout_methods:
            logits, read = ko.ablated_run(loaded, ps, (kind, layer), method, lids,
                                          readout if readout else None,
                                          means.get((kind, layer)), cfg.batch_size, cfg.seed)
            ld, auc = scores(logits, read) if read is not None else (
                scores(logits, clean_read)[0], float("nan"))
            rows.append({"site": kind, "layer": layer, "method": method,
                         "ld": ld, "ld_drop": base_ld - ld, "probe_auroc": auc,
                         "probe_auroc_drop": base_auc - auc if read is not None else float("nan")})
    table = pd.DataFrame(rows)
    out: dict[str, Any] = {"n_items": len(items), "readout_layer": readout_layer,
                           "clean_ld": base_ld, "clean_probe_auroc": base_auc,
                           "critical_layers": {}}
    for method in cfg.knockout_methods:
        for kind in ("attn", "mlp"):
            sub = table[(table["method"] == method) & (table["site"] == kind)]
            key = "ld_drop" if lids else "probe_auroc_drop"
            drops = {int(r.layer): float(getattr(r, key)) for r in sub.itertuples()
                     if getattr(r, key) == getattr(r, key)}
            out["critical_layers"][f"{method}/{kind}"] = ko.critical_layers(drops)
    return out, table


def _geometry(frame: pd.DataFrame, cap: Any, idx: dict, layer: int) -> dict[str, Any]:
    x_all = cap.get("resid", layer, "final")
    cl = (frame["split"] == "clinical").to_numpy()
    res: dict[str, Any] = {"layer": layer}
    if len(np.unique(frame.loc[cl, "source_emotion"])) == len(EMOTIONS):
        with_emotion = frame["source_emotion"].notna().to_numpy()
        groupings = {"emotion": frame.loc[with_emotion, "source_emotion"].to_numpy(),
                     "split": frame.loc[with_emotion, "split"].to_numpy(),
                     "domain": frame.loc[with_emotion, "domain"].astype(int).to_numpy()}
        res.update(geo.geometry(x_all[cl], frame.loc[cl, "source_emotion"].to_numpy(),
                                x_all[with_emotion], groupings))
    else:
        res["note"] = "RSA needs clinical items of all eight emotions"
    return res


def _steering(loaded: Any, frame: pd.DataFrame, prompts: dict, cap: Any, idx: dict,
              layers: list[int], best: int, label_ids: dict, cfg: AnalyzeConfig
              ) -> tuple[dict[str, Any], pd.DataFrame]:
    lids = list(label_ids.values())
    lab = {e: k for k, e in enumerate(ANSWER_LABELS)}
    pairs = [(i, "N" + i[1:]) for i in frame.loc[frame["split"] == "clinical", "id"]
             if "N" + i[1:] in idx]
    # steer held-out neutrals: at most half the pairs, so directions always have training pairs
    neutral_ids = _even_sample([n[0] for n in pairs], min(cfg.steering_items, len(pairs) // 2))
    targets = [prompts["N" + c[1:]] for c in neutral_ids]
    held = set(neutral_ids)
    n_layers = loaded.n_layers
    chosen = sorted({layer for layer in (n_layers // 4, n_layers // 2, 3 * n_layers // 4, best)
                     if layer in layers})
    rows = []
    for layer in chosen:
        xc = cap.get("resid", layer, "final")
        train = [(c, n) for c, n in pairs if c not in held]
        if not train:
            continue
        c_idx = [idx[c] for c, _ in train]
        n_idx = [idx[n] for _, n in train]
        scale = float(np.linalg.norm(xc[n_idx], axis=1).mean())
        directions = {"affect": st.direction(xc[c_idx], xc[n_idx])}
        if layer == best:  # emotion-specific directions at the best probing layer only
            for e in EMOTIONS:
                ce = [idx[c] for c, _ in train if c.split("-")[1] == e]
                ne = [idx[n] for c, n in train if c.split("-")[1] == e]
                if ce:
                    directions[e] = st.direction(xc[ce], xc[ne])
        base = st.softmax(st.steered_logits(loaded, targets, layer, directions["affect"], 0.0,
                                            lids, cfg.batch_size))
        for name, vec in directions.items():
            for s in cfg.steering_strengths:
                p = base if s == 0 else st.softmax(st.steered_logits(
                    loaded, targets, layer, vec * scale, s, lids, cfg.batch_size))
                row = {"layer": layer, "direction": name, "strength": s,
                       "p_none": float(p[:, lab["none"]].mean()),
                       "p_any_emotion": float(1 - p[:, lab["none"]].mean())}
                if name != "affect":
                    row["p_target_emotion"] = float(p[:, lab[name]].mean())
                rows.append(row)
    table = pd.DataFrame(rows)
    out: dict[str, Any] = {"layers": chosen, "n_neutral_prompts": len(targets),
                           "strengths_in_units_of_mean_residual_norm":
                           list(cfg.steering_strengths)}
    if len(table):
        aff = table[table["direction"] == "affect"]
        base = aff[aff["strength"] == 0]
        top = aff[aff["strength"] == max(cfg.steering_strengths)]
        out["affect_p_any_emotion"] = {int(r.layer): {"baseline": round(float(
            base.loc[base["layer"] == r.layer, "p_any_emotion"].iloc[0]), 4),
            "max_strength": round(float(r.p_any_emotion), 4)} for r in top.itertuples()}
        emo = table[(table["direction"] != "affect")]
        if len(emo):
            gains = []
            for (layer, d), g in emo.groupby(["layer", "direction"]):
                b = float(g.loc[g["strength"] == 0, "p_target_emotion"].iloc[0])
                t = float(g.loc[g["strength"] == max(cfg.steering_strengths),
                                "p_target_emotion"].iloc[0])
                gains.append({"layer": int(layer), "emotion": d, "gain": t - b})
            gdf = pd.DataFrame(gains)
            out["emotion_direction_mean_gain_by_layer"] = {
                int(k): round(float(v), 4) for k, v in gdf.groupby("layer")["gain"].mean()
                .items()}
    return out, table


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The figures a card or a closing note quotes, flat and typed."""
    h: dict[str, Any] = {}
    p = results.get("probing", {})
    if "binary" in p:
        b = p["binary"]
        h["binary_auroc_best"] = round(b["best_auroc"], 4)
        h["binary_best_layer"] = b["best_layer"]
        h["binary_saturation_layer"] = b["saturation_layer"]
        h["binary_permutation_p"] = round(b["permutation_null"]["p_value"], 4)
        h["tfidf_baseline_auroc"] = round(b["baselines"]["tfidf_auroc"], 4)
        h["wordcount_baseline_auroc"] = round(b["baselines"]["wordcount_auroc"], 4)
    if "eight_class" in p:
        e = p["eight_class"]
        h["eight_class_macro_auroc_best"] = round(e["best_macro_auroc"], 4)
        h["eight_class_best_layer"] = e["best_layer"]
        h["eight_class_accuracy_at_best"] = round(e["accuracy_at_best"], 4)
        h["eight_class_tfidf_macro_auroc"] = round(e["baselines"]["tfidf_macro_auroc"], 4)
    pa = results.get("patching", {})
    if "attribution_vs_exact_overall" in pa:
        h["attribution_vs_exact_pearson"] = round(pa["attribution_vs_exact_overall"]["pearson"],
                                                  4)
        h["attribution_vs_exact_spearman"] = round(
            pa["attribution_vs_exact_overall"]["spearman"], 4)
    if "attribution_speedup" in pa:
        h["attribution_speedup_x"] = pa["attribution_speedup"]
    k = results.get("knockout", {})
    if k.get("critical_layers"):
        key = "mean/mlp" if "mean/mlp" in k["critical_layers"] else next(
            iter(k["critical_layers"]))
        h["critical_layers_" + key.replace("/", "_")] = k["critical_layers"][key]
    g = results.get("geometry", {})
    if "rsa" in g:
        h["rsa_rho"] = round(g["rsa"]["rho"], 4)
        h["rsa_p"] = round(g["rsa"]["p_value"], 4)
    if "behaviour" in results and "clinical" in results["behaviour"]:
        h["model_answer_accuracy_clinical"] = round(results["behaviour"]["clinical"]["accuracy"],
                                                    4)
    h["total_wall_time_s"] = round(results["timings_s"].get("total_s", 0.0), 1)
    return h


def save_json(path: Path, data: dict[str, Any]) -> None:
    from .._util.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if np.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(type(o).__name__)
