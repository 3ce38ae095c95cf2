"""The reference analyses as one run: ``run_suite(AnalyzeConfig(model=...))``.

Orchestration only: select the items, load the model, capture every requested site once
(cached on disk), run one step per requested method (probing first: its best layers are the
read-out of the others), and hand the :class:`~.result.RunResult` to the report, which writes
``results.json`` (versioned, with a ``headline`` block the dataset card can quote), CSV tables,
PNG figures and ``report.md``. Logit-based methods need a language-model head; on an encoder
they are skipped with a note. The computations live in :mod:`.steps`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .._util.progress import stage
from .._version import __version__
from ..core.battery import battery_frame
from ..core.constants import SPLITS
from ..core.digest import battery_digest
from ..core.sources import load_source
from ..errors import UsageError
from . import steps
from .capture import cached_capture
from .config import METHODS, AnalyzeConfig, Method
from .hooks import Site
from .models import LoadedModel, cache_dir, load_model
from .prompts import build_prompt, label_token_ids
from .report import write_run
from .result import RunResult
from .sae import step as sae_step
from .selection import select_items
from .steps import RunContext, StepOutput

__all__ = ["METHODS", "AnalyzeConfig", "run_suite"]


@dataclass(frozen=True)
class Step:
    """How the suite runs one method: the step, and where its output goes."""

    run: Callable[[RunContext], StepOutput]
    section: str  # results.json key
    table: str | None  # CSV (and figure) name
    timing: str | None  # timings_s key for the whole step (patching times its own parts)
    needs_head: bool  # skipped, with a note, on a model without a language-model head


_PATCHING = Step(steps.patching, "patching", "patching_sites", None, True)
STEPS: dict[Method, Step] = {
    "probing": Step(steps.probing, "probing", "probing_by_layer", "probing_s", False),
    "patching": _PATCHING,
    "attribution": _PATCHING,  # exact and attribution patching share pairs and one step
    "knockout": Step(steps.knockout, "knockout", "knockout", "knockout_s", False),
    "geometry": Step(steps.geometry, "geometry", None, "geometry_s", False),
    "steering": Step(steps.steering, "steering", "steering", "steering_s", True),
    "sae": Step(sae_step.run, "sae", "sae_latents", "sae_s", False),  # ablation needs a head
}
assert tuple(STEPS) == METHODS, "every method needs a step, in METHODS order"
# An encoder asked for any of these gets a "skipped" block in results.json (schema 1 writes it,
# empty, even when only knockout was asked: knockout falls back to the frozen probe).
_LOGIT_METHODS = {"patching", "attribution", "knockout", "steering"}


@contextmanager
def _timed(timings: dict[str, float], key: str | None) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    if key is not None:
        timings[key] = time.perf_counter() - t0


def _layers(cfg: AnalyzeConfig, n_layers: int) -> list[int]:
    layers = list(cfg.layers) if cfg.layers is not None else list(range(n_layers))
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad:
        raise UsageError(f"layers {bad} out of range: the model has {n_layers} layers "
                         f"(0-{n_layers - 1})")
    return layers


def _context(cfg: AnalyzeConfig, loaded: LoadedModel, full: pd.DataFrame, frame: pd.DataFrame,
             result_timings: dict[str, float]) -> tuple[RunContext, RunResult]:
    """Build the prompts, capture every site once, and open the run's result."""
    layers = _layers(cfg, loaded.n_layers)
    causal = loaded.kind == "causal"
    preset = cfg.preset if causal else "raw"
    prompts = {i: build_prompt(t, preset) for i, t in zip(frame["id"], frame["text"],
                                                           strict=True)}
    label_ids = label_token_ids(loaded.tokenizer) if causal else None
    ids = list(frame["id"])
    sites = [Site(k, layer) for layer in layers for k in ("resid", "attn", "mlp")]
    digest = battery_digest(full)
    stage(f"analyses: capturing activations ({len(ids)} items, {len(sites)} sites)")
    with _timed(result_timings, "capture_s"):
        cap, hit = cached_capture(
            loaded, [prompts[i] for i in ids], sites, ("final", "mean"),
            {"model": cfg.model, "revision": loaded.revision, "battery": digest,
             "version": __version__, "preset": preset, "dtype": cfg.dtype},
            cache_dir() / "activations" if cfg.use_cache else None, cfg.batch_size,
            list(label_ids.values()) if label_ids else None, cfg.progress)
    ctx = RunContext(loaded, frame, prompts, cap, {i: k for k, i in enumerate(ids)}, layers,
                     sites, label_ids, cfg, best=layers[-1], best8=layers[-1])
    result = RunResult(
        model={"id": cfg.model, "source": loaded.source, "revision": loaded.revision,
               "kind": loaded.kind, "n_layers": loaded.n_layers,
               "hidden_size": int(loaded.model.config.hidden_size),
               "device": loaded.device, "dtype": cfg.dtype,
               "device_map": _placement(loaded, cfg.device_map)},
        battery={"sha256": digest, "n_items": len(frame),
                 "splits": {s: int((frame["split"] == s).sum()) for s in SPLITS}},
        config=cfg.to_dict(), prompt_preset=preset, activation_cache_hit=hit, layers=layers,
        timings=result_timings)
    return ctx, result


def _placement(loaded: LoadedModel, device_map: str | None) -> dict[str, str] | None:
    """Where the modules of a model loaded with ``device_map`` went (accelerate's
    ``hf_device_map``; ``{"": device}`` when every module landed on one device, as on a
    CPU-only machine). None for an ordinary load."""
    if device_map is None:
        return None
    mapping = getattr(loaded.model, "hf_device_map", None)
    if mapping:
        return {str(k): str(v) for k, v in mapping.items()}
    return {"": str(next(loaded.model.parameters()).device)}


def _run_step(step: Step, ctx: RunContext, result: RunResult) -> None:
    stage(f"analyses: {step.section}")
    with _timed(result.timings, step.timing):
        out = step.run(ctx)
    result.sections[step.section] = out.section
    if step.table is not None and out.table is not None:
        result.tables[step.table] = out.table
    result.timings.update(out.timings)


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)


def _bound_allocator() -> None:
    """Pin glibc's mmap threshold at 1 MiB, so freed activation buffers go back to the system.

    glibc raises the threshold after each freed mmap'ed block (up to 32 MiB), after which
    PyTorch's per-batch activations come from the heap and stay in the process when freed: the
    RSS of a long CPU run then grows batch after batch (bare forwards of 64 SmolLM2 prompts:
    1.66 GB RSS unpinned and with a KV cache, a flat 1.01 GB pinned and without). There is no
    Python API for this, hence ctypes; elsewhere (macOS, musl) it is a no-op.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except OSError:
        pass


def run_suite(cfg: AnalyzeConfig) -> dict[str, Any]:
    """Run every requested method on one model and write the run folder ``cfg.out``.

    Returns the results.json content. User mistakes raise :class:`UsageError`,
    :class:`~affect_battery.errors.ModelError` or
    :class:`~affect_battery.errors.ArchitectureError`.
    """
    t_start = time.perf_counter()
    _bound_allocator()
    source = load_source(cfg.battery, cfg.battery_format) if cfg.battery else None
    full = battery_frame() if source is None else source.stimuli()
    frame = select_items(full, cfg.splits, cfg.max_items, cfg.seed)
    timings: dict[str, float] = {}
    with _timed(timings, "load_model_s"):
        loaded = load_model(cfg.model, cfg.device, cfg.dtype, cfg.trust_remote_code,
                            device_map=cfg.device_map)
    ctx, result = _context(cfg, loaded, full, frame, timings)
    if source is not None:  # which battery, and what it cannot support (e.g. no twin pairs)
        result.battery["source"] = source.describe()
    if ctx.causal and ctx.cap.final_logits is not None:
        result.sections["behaviour"] = steps.behaviour(ctx).section
    if "probing" in cfg.methods:
        _run_step(STEPS["probing"], ctx, result)
    best, best8 = steps.readout_layers(result.sections.get("probing"), ctx.layers)
    ctx = replace(ctx, best=best, best8=best8)
    if not ctx.causal and _LOGIT_METHODS & set(cfg.methods):
        result.sections["skipped"] = {m: "needs a language-model head"
                                      for m in sorted(set(cfg.methods)) if STEPS[m].needs_head}
    done: set[str] = {"probing"}
    for method in METHODS:
        step = STEPS[method]
        if method not in cfg.methods or step.section in done or (
                step.needs_head and not ctx.causal):
            continue
        done.add(step.section)
        _run_step(step, ctx, result)
    result.timings["total_s"] = time.perf_counter() - t_start
    return write_run(Path(cfg.out), result, frame, ctx.cap, best8, cfg.seed)
