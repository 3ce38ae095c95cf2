"""The ``sae`` analysis step: which SAE latents respond to affect, to the situation or to the
emotion word, and does removing them change the model's answer?

Over a :class:`~..steps.RunContext`: the SAE (``--sae``) encodes the captured activations at
its site, pooled at the final prompt token and as the mean over the stimulus tokens; every
latent is tested within matched pairs (:mod:`.stats`): clinical - neutral, moderate -
neutral and keyword-rich twin - clinical, per position. The affect latents (clinical above
neutral after FDR) are read token by token over the battery for their top-activating words
(a word counts as an emotion word when the keyword-rich twin adds it: it is not in the
twin's clinical item), and the top ``sae_top_k`` of them are ablated (zero and mean, error
term kept) on clinical items against random latents matched on firing frequency.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...core.ids import parse_id, sibling_id
from ...errors import UsageError
from ..capture import capture
from ..hooks import Site
from ..result import Section
from ..selection import LABEL_INDEX, clinical_with_neutral, even_sample
from ..steps import RunContext, StepOutput
from .ablation import ablated_label_logits, matched_random
from .io import LoadedSae, load_sae, site_of_hook
from .stats import ALPHA, emotion_specific, paired_latent_tests
from .tokens import TokenActs, token_activations
from .topk import SparseAutoencoder
from .train import quality

POSITIONS = ("final", "mean")
CONTRASTS = {"clinical_vs_neutral": ("clinical", "neutral"),
             "moderate_vs_neutral": ("moderate", "neutral"),
             "keyword_vs_clinical": ("keyword_rich", "clinical")}
RANDOM_DRAWS = 3
TOP_TOKENS = 10
REPORTED_LATENTS = 20
DEMO_NOTE = ("trained offline by affect-battery sae-train on a small corpus (mostly the battery "
             "itself): a demonstration of the method, not a research-grade dictionary")
_WORD = re.compile(r"[A-Za-z']+")


def _site(ctx: RunContext, sae: LoadedSae) -> Site:
    site = site_of_hook(ctx.cfg.sae_hook) if ctx.cfg.sae_hook else sae.site
    if site is None:
        raise UsageError(f"--sae {sae.source}: its hook {sae.hook_name!r} is not a site we "
                         "can hook; name one with --sae-hook blocks.N")
    hidden = int(ctx.loaded.model.config.hidden_size)
    if sae.sae.d_in != hidden:
        raise UsageError(f"--sae {sae.source}: its d_in is {sae.sae.d_in}, the model's "
                         f"hidden size {hidden} (an SAE of another model?)")
    if site.layer >= ctx.loaded.n_layers:
        raise UsageError(f"--sae {sae.source}: site {site} is beyond the model's "
                         f"{ctx.loaded.n_layers} layers")
    return site


def _pooled(ctx: RunContext, site: Site) -> dict[str, np.ndarray]:
    """The site's pooled activations of every item: from the suite's capture when it holds the
    site, else one capture of that site alone."""
    keys = [(site.kind, site.layer, pos) for pos in POSITIONS]
    if all(k in ctx.cap.acts for k in keys):
        return {pos: ctx.cap.acts[k] for pos, k in zip(POSITIONS, keys, strict=True)}
    prompts = [ctx.prompts[i] for i in ctx.frame["id"]]
    cap = capture(ctx.loaded, prompts, [site], POSITIONS, ctx.cfg.batch_size)
    return {pos: cap.at(site, pos) for pos in POSITIONS}


def encode_rows(sae: SparseAutoencoder, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Latent activations [n, d_sae] of activation rows ``x``."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out.append(sae.encode(torch.from_numpy(np.asarray(x[i:i + batch_size],
                                                              np.float32))).numpy())
    return np.concatenate(out) if out else np.zeros((0, sae.d_sae), np.float32)


def _pairs(ctx: RunContext, upper: str, lower: str) -> list[tuple[str, str]]:
    ids = ctx.frame.loc[ctx.frame["split"] == upper, "id"]
    return [(i, sibling_id(i, lower)) for i in ids if sibling_id(i, lower) in ctx.idx]


def _tests(ctx: RunContext, lat: dict[str, np.ndarray]) -> pd.DataFrame:
    frames = []
    for name, (upper, lower) in CONTRASTS.items():
        pairs = _pairs(ctx, upper, lower)
        if len(pairs) < 2:
            continue
        u = [ctx.idx[a] for a, _ in pairs]
        lo = [ctx.idx[b] for _, b in pairs]
        for pos in POSITIONS:
            t = paired_latent_tests(lat[pos][u], lat[pos][lo])
            t.insert(0, "position", pos)
            t.insert(0, "contrast", name)
            frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _wide(tests: pd.DataFrame, pos: str) -> pd.DataFrame:
    """Per latent at one position: r and q of every contrast side by side."""
    sub = tests[tests["position"] == pos]
    return sub.pivot(index="latent", columns="contrast", values=["rank_biserial", "q",
                                                                 "mean_diff"])


def _separating(w: pd.DataFrame, contrast: str, sign: int = 1) -> pd.Index:
    if ("q", contrast) not in w:
        return pd.Index([])
    m = (w[("q", contrast)] < ALPHA) & (np.sign(w[("rank_biserial", contrast)]) == sign)
    return w.index[m]


def _dose_ordered(ctx: RunContext, lat: np.ndarray, latents: Sequence[int]) -> int:
    """Latents whose mean rises neutral < moderate < clinical over the moderate scenarios."""
    trip = [(ctx.idx[sibling_id(m, "neutral")], ctx.idx[m], ctx.idx[sibling_id(m, "clinical")])
            for m in ctx.frame.loc[ctx.frame["split"] == "moderate", "id"]
            if sibling_id(m, "neutral") in ctx.idx and sibling_id(m, "clinical") in ctx.idx]
    if not trip or not len(latents):
        return 0
    n, m, c = (lat[[t[k] for t in trip]][:, list(latents)].mean(0) for k in range(3))
    return int(((n < m) & (m < c)).sum())


def _position_summary(ctx: RunContext, tests: pd.DataFrame, lat: np.ndarray, pos: str
                      ) -> Section:
    w = _wide(tests, pos)
    up = _separating(w, "clinical_vs_neutral", 1)
    down = _separating(w, "clinical_vs_neutral", -1)
    kw_more = up.intersection(_separating(w, "keyword_vs_clinical", 1))
    kw_less = up.intersection(_separating(w, "keyword_vs_clinical", -1))
    mod_up = up.intersection(_separating(w, "moderate_vs_neutral", 1))
    n_pairs = int(tests.loc[(tests["contrast"] == "clinical_vs_neutral")
                            & (tests["position"] == pos), "n_pairs"].max()) \
        if (tests["contrast"] == "clinical_vs_neutral").any() else 0
    return {"n_pairs": n_pairs, "fdr_alpha": ALPHA,
            "n_alive_on_items": int((lat > 0).any(0).sum()),
            "clinical_above_neutral": len(up), "clinical_below_neutral": len(down),
            "of_them_keyword_rich_above_clinical": len(kw_more),
            "of_them_keyword_rich_below_clinical": len(kw_less),
            "of_them_moderate_above_neutral": len(mod_up),
            "of_them_dose_ordered": _dose_ordered(ctx, lat, list(up))}


def _affect_latents(tests: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Latents with clinical above neutral after FDR at either position, strongest first
    (latent, its best rank-biserial, q and p, and the position of it), and how they were
    chosen. When none passes FDR (few pairs), the latents of smallest uncorrected p with
    clinical above neutral stand in, and the selection says so."""
    up = tests[(tests["contrast"] == "clinical_vs_neutral") & (tests["rank_biserial"] > 0)]
    sub = up[up["q"] < ALPHA]
    if len(sub):
        best = sub.sort_values(["rank_biserial", "q", "latent"], ascending=[False, True, True])
        selection = f"clinical > neutral at q < {ALPHA}"
    else:
        best = up.sort_values(["p", "rank_biserial", "latent"], ascending=[True, False, True])
        selection = ("none passed FDR: the latents of smallest uncorrected p with clinical > "
                     "neutral (exploratory)")
    return best.drop_duplicates("latent")[["latent", "rank_biserial", "q", "p",
                                           "position"]], selection


def _token_table(ctx: RunContext, sae: SparseAutoencoder, site: Site,
                 latents: Sequence[int]) -> tuple[dict[str, Any], np.ndarray, np.ndarray,
                                                  TokenActs]:
    """Top-activating tokens of ``latents`` over the stimulus tokens of the battery items, and
    every latent's firing frequency and mean activation over those tokens."""
    import torch

    ids = list(ctx.frame["id"])
    toks = token_activations(ctx.loaded, [ctx.prompts[i] for i in ids], site,
                             ctx.cfg.batch_size, stimulus_only=True)
    fired = np.zeros(sae.d_sae)
    total = np.zeros(sae.d_sae)
    chosen = np.zeros((len(toks.acts), len(latents)), np.float32)
    with torch.no_grad():
        for i in range(0, len(toks.acts), 2048):
            a = sae.encode(torch.from_numpy(toks.acts[i:i + 2048])).numpy()
            fired += (a > 0).sum(0)
            total += a.sum(0)
            chosen[i:i + 2048] = a[:, list(latents)]
    n = max(1, len(toks.acts))
    words = {i: set(_WORD.findall(t.lower())) for i, t in zip(ctx.frame["id"],
                                                                ctx.frame["text"], strict=True)}
    out: dict[str, Any] = {}
    for col, j in enumerate(latents):
        order = np.argsort(-chosen[:, col], kind="stable")[:TOP_TOKENS]
        rows = []
        for t in order:
            if chosen[t, col] <= 0:
                break
            item = ids[int(toks.prompt[t])]
            word = toks.word[t]
            split = str(ctx.frame["split"].iloc[int(toks.prompt[t])])
            twin_word = split == "keyword_rich" and sibling_id(item, "clinical") in words \
                and _WORD.fullmatch(word) is not None \
                and word not in words[sibling_id(item, "clinical")]  # punctuation never counts
            rows.append({"token": toks.text[t], "word": word, "item": item, "split": split,
                         "activation": round(float(chosen[t, col]), 4),
                         "emotion_word": bool(twin_word)})
        out[str(int(j))] = rows
    return out, fired / n, total / n, toks


def _ld(logits: np.ndarray, emo: np.ndarray) -> np.ndarray:
    return logits[np.arange(len(emo)), emo] - logits[:, LABEL_INDEX["none"]]


def _ablation(ctx: RunContext, sae: SparseAutoencoder, site: Site, top: list[int],
              freq: np.ndarray, means: np.ndarray) -> tuple[Section, list[dict[str, Any]]]:
    cfg = ctx.cfg
    items = even_sample(clinical_with_neutral(ctx.frame, ctx.idx), cfg.sae_items, cfg.seed)
    prompts = [ctx.prompts[i] for i in items]
    emo = np.array([LABEL_INDEX[str(parse_id(i).emotion)] for i in items])
    base = _ld(ablated_label_logits(ctx.loaded, prompts, sae, site, [], 0.0, ctx.lids,
                                    cfg.batch_size), emo)
    rows = []
    randoms = matched_random(top, freq, cfg.seed, RANDOM_DRAWS)
    out: Section = {"n_items": len(items), "k": len(top), "latents": top,
                    "baseline_ld": float(base.mean()), "random_draws": len(randoms),
                    "score": "emotion label - 'none' logit difference at the final token, "
                             "clinical items; change = ablated - clean"}
    for method in ("zero", "mean"):
        sets = [("affect", top)] + [(f"random_{d}", r) for d, r in enumerate(randoms)]
        changes = {}
        for name, lats in sets:
            vals = 0.0 if method == "zero" else means[lats]
            ld = _ld(ablated_label_logits(ctx.loaded, prompts, sae, site, lats, vals,
                                          ctx.lids, cfg.batch_size), emo)
            changes[name] = float((ld - base).mean())
            rows.append({"method": method, "set": name, "k": len(lats),
                         "ld_change": changes[name],
                         "ld_change_sd": float((ld - base).std(ddof=1)) if len(ld) > 1
                         else 0.0})
        rand = [v for k, v in changes.items() if k != "affect"]
        out[method] = {"affect_ld_change": changes["affect"],
                       "random_ld_change_mean": float(np.mean(rand)) if rand else None,
                       "random_ld_change_min": float(np.min(rand)) if rand else None,
                       "random_ld_change_max": float(np.max(rand)) if rand else None}
    return out, rows


def _sae_block(sae: LoadedSae, site: Site, toks: TokenActs) -> Section:
    q = quality(sae.sae, toks.acts)
    trained_here = sae.metadata.get("trained_by") == "affect-battery sae-train"
    block: Section = {"source": sae.source, "hook_name": sae.hook_name, "site": str(site),
                      **sae.sae.config(),
                      "on_battery_stimulus_tokens": q.to_dict()}
    if "training" in sae.metadata:
        block["training"] = sae.metadata["training"]
    if trained_here:
        block["note"] = DEMO_NOTE
    return block


def run(ctx: RunContext) -> StepOutput:
    """The sae step (see the module docstring)."""
    cfg = ctx.cfg
    if cfg.sae is None:
        return StepOutput({"note": "not run: give --sae FOLDER|RELEASE/ID (affect-battery "
                                   "sae-train makes one offline)"})
    loaded = load_sae(cfg.sae)
    site = _site(ctx, loaded)
    sae = loaded.sae
    pooled = _pooled(ctx, site)
    lat = {pos: encode_rows(sae, pooled[pos]) for pos in POSITIONS}
    tests = _tests(ctx, lat)
    if not len(tests):
        return StepOutput({"sae": {"source": loaded.source, "site": str(site)},
                           "note": "no matched pairs among the selected items"})
    affect, selection = _affect_latents(tests)
    reported = [int(j) for j in affect["latent"].head(REPORTED_LATENTS)]
    top = reported[:cfg.sae_top_k]
    tokens, freq, means, toks = _token_table(ctx, sae, site, reported)
    out: Section = {"sae": _sae_block(loaded, site, toks),
                    "by_position": {pos: _position_summary(ctx, tests, lat[pos], pos)
                                    for pos in POSITIONS}}
    cn = _pairs(ctx, "clinical", "neutral")
    if len(cn) >= 2:
        diff = {pos: lat[pos][[ctx.idx[a] for a, _ in cn]] - lat[pos][[ctx.idx[b]
                                                                       for _, b in cn]]
                for pos in POSITIONS}
        emos = [str(parse_id(a).emotion) for a, _ in cn]
        out["emotion_specific"] = {pos: emotion_specific(diff[pos], emos) for pos in POSITIONS}
    wide = {pos: _wide(tests, pos) for pos in POSITIONS}
    out["affect_latent_selection"] = selection
    out["affect_latents"] = [_latent_entry(r, wide, tokens) for r in
                             affect.head(REPORTED_LATENTS).itertuples()]
    out["top_tokens_emotion_word_share"] = _emotion_word_share(tokens)
    if ctx.causal and ctx.lids and top:
        out["ablation"], rows = _ablation(ctx, sae, site, top, freq, means)
        out["ablation"]["selection"] = selection
        out["ablation"]["table"] = rows
    elif not top:
        out["ablation"] = {"note": "no latent is higher on clinical than on neutral items"}
    else:
        out["ablation"] = {"note": "needs a language-model head"}
    return StepOutput(out, tests[tests["n_nonzero"] > 0].reset_index(drop=True))


def _latent_entry(r: Any, wide: dict[str, pd.DataFrame], tokens: dict[str, Any]) -> Section:
    w = wide[r.position]
    e: Section = {"latent": int(r.latent), "position": r.position,
                  "clinical_vs_neutral_r": round(float(r.rank_biserial), 4),
                  "clinical_vs_neutral_q": float(f"{r.q:.3g}"),
                  "clinical_vs_neutral_p": float(f"{r.p:.3g}")}
    for c in ("keyword_vs_clinical", "moderate_vs_neutral"):
        if ("q", c) in w and r.latent in w.index:
            e[f"{c}_r"] = round(float(w.loc[r.latent, ("rank_biserial", c)]), 4)
            e[f"{c}_q"] = float(f"{w.loc[r.latent, ('q', c)]:.3g}")
    top = tokens.get(str(int(r.latent)), [])
    e["top_tokens"] = [t["word"] + (" [emotion word]" if t["emotion_word"] else "")
                       for t in top]
    e["top_token_splits"] = [t["split"] for t in top]
    return e


def _emotion_word_share(tokens: dict[str, Any]) -> Section:
    """Over the reported affect latents' top tokens: the share on emotion words (added by a
    keyword-rich twin), and the latents whose top tokens are mostly emotion words."""
    rows = [t for top in tokens.values() for t in top]
    mostly = [int(j) for j, top in tokens.items()
              if top and np.mean([t["emotion_word"] for t in top]) > 0.5]
    return {"n_tokens": len(rows),
            "emotion_word_share": float(np.mean([t["emotion_word"] for t in rows]))
            if rows else None,
            "latents_mostly_emotion_words": mostly, "n_latents": len(tokens)}
