"""Many runs from one YAML file: models x seeds x prompt presets, then one comparison.

A sweep is only a list of ordinary ``analyze`` runs: every job is an
:class:`~.config.AnalyzeConfig` handed to :func:`~.suite.run_suite`, written to its own folder
``OUT/<model>__seed<k>__<preset>``, so a job's folder is exactly what ``affect-battery analyze``
would have written and nothing here repeats the suite's logic.

Why the pieces are as they are:

- **Validated at load.** The YAML is checked key by key (unknown keys, types, empty lists) and
  every job's ``AnalyzeConfig`` is built before anything runs, so a typo in the eleventh model
  is one :class:`~affect_battery.errors.UsageError` line naming the file and the key, not a
  failure two hours in.
- **Resumable.** ``run_suite`` swaps a run folder in whole (``_util.atomic.atomic_dir``), so a
  folder whose ``results.json`` parses and records this job's configuration is finished and is
  skipped; one with another configuration (the YAML changed) is run again. Failures are kept in
  ``OUT/manifest.json`` (one error line each, tracebacks under ``OUT/logs/``) and are not retried
  unless asked, so a model that cannot load does not cost time on every resume.
- **Executors.** ``local`` runs the jobs one after the other in this process. ``slurm`` submits
  them as a Slurm job array through submitit (imported only here; the ``sweep`` extra), and
  ``submitit-local`` runs the same submitit path on this machine, one subprocess per job (what
  the tests use, and a dry run of a cluster setup).
- **Comparison.** :func:`compare` reads every finished job's ``results.json`` and writes
  ``comparison.csv`` (one row per run and layer, with the layer's relative depth so models of
  different depths share an axis), ``comparison.md`` and ``comparison.png``. The metric is a
  name from :data:`METRICS` or a dotted path to any ``*_by_layer`` block of results.json; by
  default the paired margin over TF-IDF when the runs have it, else the unpaired AUROC.
"""

from __future__ import annotations

import difflib
import gc
import io
import json
import math
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pandas as pd

from .._util.atomic import atomic_write_bytes, atomic_write_text
from .._util.extras import MissingExtra, installed
from .._util.plotting import pyplot
from ..errors import AffectBatteryError, UsageError
from .config import AnalyzeConfig
from .prompts import PRESETS
from .suite import run_suite

Executor = Literal["local", "slurm", "submitit-local"]
EXECUTORS: tuple[Executor, ...] = get_args(Executor)
JobState = Literal["pending", "done", "stale", "failed"]

MANIFEST = "manifest.json"
LOGS = "logs"
SPEC_KEYS = ("models", "seeds", "presets", "out", "analyze", "executor", "slurm", "metric")
# Options a job sets itself (its model, folder, seed and preset) or that do not belong in a file.
_JOB_FIELDS = {"model", "out", "seed", "preset", "progress"}
# Options that change nothing in results.json, so a different value does not make a run stale.
_NOT_COMPARED = {"out", "use_cache"}
DEFAULT_TIMEOUT_MIN = 240  # submitit's own default (5 minutes) would kill any real model run


# ---- the YAML file -----------------------------------------------------------------------------

def _option_hints() -> dict[str, Any]:
    """The analyze options a sweep may set, with their types, read from AnalyzeConfig itself
    (so an option added there is accepted here without an edit)."""
    hints = get_type_hints(AnalyzeConfig)
    return {f.name: hints[f.name] for f in fields(AnalyzeConfig) if f.name not in _JOB_FIELDS}


def _is_union(hint: Any) -> bool:
    return get_origin(hint) in (Union, UnionType)


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a YAML value has the type an AnalyzeConfig field declares. Choices (Literal) are
    left to AnalyzeConfig, which names the allowed values."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is NoneType:
        return value is None
    if _is_union(hint):
        return any(_conforms(value, a) for a in args)
    if origin is Literal or hint is str:
        return isinstance(value, str)
    if origin is tuple:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if _is_union(hint):
        return " or ".join(_describe(a) for a in args)
    if hint is NoneType:
        return "null"
    if origin is tuple:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    return {bool: "true or false", int: "an integer", float: "a number"}.get(hint, "a string")


def _tuple_hint(hint: Any) -> bool:
    return any(get_origin(h) is tuple for h in (get_args(hint) if _is_union(hint) else (hint,)))


def _unknown(where: str, keys: Iterable[str], known: Iterable[str]) -> None:
    known = list(known)
    for key in keys:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(known)}"
            raise UsageError(f"{where}: unknown key {key!r} ({hint})")


def _options(where: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Analyze options of the ``analyze`` block or a model entry, type-checked; lists become
    tuples and a single value where a list is expected is a list of one."""
    hints = _option_hints()
    _unknown(where, raw, hints)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        hint = hints[key]
        if _tuple_hint(hint) and value is not None and not isinstance(value, list):
            value = [value]
        if isinstance(value, list) and not value:
            raise UsageError(f"{where}.{key}: an empty list; give at least one value")
        if not _conforms(value, hint):
            raise UsageError(f"{where}.{key}: must be {_describe(hint)}, got {value!r}")
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def slug(text: str) -> str:
    """A folder-name-safe form of a model spec: a Hub id ``org/name`` becomes ``org--name`` (as
    the Hub's own cache spells it), a path its last component; anything outside
    ``[A-Za-z0-9._-]`` becomes ``-``."""
    if text.startswith((".", "/", "~")):
        text = Path(text).expanduser().name or "model"
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text.replace("/", "--")).strip("-.")
    return text[:80] or "model"


@dataclass(frozen=True)
class ModelEntry:
    """One model of the sweep: its spec (Hub id, folder or alias), its folder-name label and the
    options it sets over the sweep's shared ones (dtype, device, batch_size ...)."""

    model: str
    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SlurmOptions:
    """Cluster resources per job; ``None`` leaves submitit's (or the cluster's) default."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gpus_per_node: int | None = None
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    timeout_min: int = DEFAULT_TIMEOUT_MIN
    array_parallelism: int | None = None

    def parameters(self, cluster: str) -> dict[str, Any]:
        """``update_parameters`` keywords; Slurm-only ones carry submitit's ``slurm_`` prefix
        (the local executor ignores them)."""
        out: dict[str, Any] = {"timeout_min": self.timeout_min}
        for key in ("gpus_per_node", "cpus_per_task", "mem_gb"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if cluster == "slurm":
            for key in ("partition", "account", "qos", "array_parallelism"):
                if getattr(self, key) is not None:
                    out[f"slurm_{key}"] = getattr(self, key)
        return out


def _slurm(where: str, raw: Any) -> SlurmOptions:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: must be a mapping of cluster options")
    hints = get_type_hints(SlurmOptions)
    _unknown(where, raw, hints)
    for key, value in raw.items():
        positive = not isinstance(value, int | float) or value > 0
        if not _conforms(value, hints[key]) or not positive:
            wanted = _describe(hints[key]).replace(" or null", "")
            raise UsageError(f"{where}.{key}: must be {wanted}"
                             f"{' > 0' if 'string' not in wanted else ''}, got {value!r}")
    return SlurmOptions(**raw)


def _list(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise UsageError(f"{where}: must be a list, got {value!r}")
    if not value:
        raise UsageError(f"{where}: an empty list; give at least one")
    return value


def _models(where: str, raw: Any) -> tuple[ModelEntry, ...]:
    entries = []
    for k, item in enumerate(_list(where, raw)):
        at = f"{where}[{k}]"
        if isinstance(item, str):
            item = {"model": item}
        if not isinstance(item, dict):
            raise UsageError(f"{at}: give a model id, path or alias, or a mapping with 'model'")
        _unknown(at, item, ["model", "name", *_option_hints()])
        item = dict(item)
        model, name = item.pop("model", None), item.pop("name", None)
        if not isinstance(model, str) or not model.strip():
            raise UsageError(f"{at}.model: give a Hub id, a local folder or an alias")
        if name is not None and (not isinstance(name, str) or slug(name) != name):
            raise UsageError(f"{at}.name: must be a folder-safe name ([A-Za-z0-9._-]), "
                             f"got {name!r}")
        entries.append(ModelEntry(model, name or slug(model), _options(at, item)))
    seen: dict[str, int] = {}
    for k, e in enumerate(entries):
        if e.name in seen:
            raise UsageError(f"{where}[{k}]: its folder name {e.name!r} is also {where}"
                             f"[{seen[e.name]}]'s; give one of them a distinct 'name'")
        seen[e.name] = k
    return tuple(entries)


def _ints(where: str, raw: Any) -> tuple[int, ...]:
    values = _list(where, raw)
    for k, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise UsageError(f"{where}[{k}]: must be an integer >= 0, got {v!r}")
    if len(set(values)) != len(values):
        raise UsageError(f"{where}: {values} repeats a value")
    return tuple(values)


def _presets(where: str, raw: Any) -> tuple[str, ...]:
    values = _list(where, raw)
    for k, v in enumerate(values):
        if v not in PRESETS:
            raise UsageError(f"{where}[{k}]: unknown preset {v!r}; use {', '.join(PRESETS)}")
    if len(set(values)) != len(values):
        raise UsageError(f"{where}: {values} repeats a value")
    return tuple(values)


@dataclass(frozen=True)
class Job:
    """One ordinary analyze run of the sweep; ``config.out`` is its folder."""

    name: str
    model: str  # the model's label (its folder-name part)
    seed: int
    preset: str
    config: AnalyzeConfig

    @property
    def folder(self) -> Path:
        return Path(self.config.out)


def job_name(model: str, seed: int, preset: str) -> str:
    """``<model>__seed<k>__<preset>``: deterministic and safe as a folder name."""
    return f"{model}__seed{seed}__{preset}"


@dataclass(frozen=True)
class SweepSpec:
    """A sweep as its YAML file describes it (see ``examples/sweep.yaml``)."""

    path: Path
    models: tuple[ModelEntry, ...]
    seeds: tuple[int, ...] = (0,)
    presets: tuple[str, ...] = ("two_shot",)
    options: dict[str, Any] = field(default_factory=dict)
    out: Path = Path("sweep")
    executor: Executor = "local"
    slurm: SlurmOptions = SlurmOptions()
    metric: str | None = None

    @classmethod
    def load(cls, path: str | Path) -> SweepSpec:
        """Read and validate a sweep file; every mistake is one UsageError line naming it."""
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"{path}: no such sweep file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read the sweep file ({exc})") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise UsageError(f"{path}: not valid YAML ({problem}{at})") from None
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: Any, path: str | Path = "<sweep>") -> SweepSpec:
        path = Path(path)
        try:
            return cls._from_dict(data, path)
        except UsageError as exc:
            raise UsageError(f"{path}: {exc}") from None

    @classmethod
    def _from_dict(cls, data: Any, path: Path) -> SweepSpec:
        if not isinstance(data, dict):
            raise UsageError("must be a mapping with at least 'models'")
        _unknown("top level", data, SPEC_KEYS)
        if "models" not in data:
            raise UsageError("models: missing; list at least one model")
        analyze = data.get("analyze", {})
        if not isinstance(analyze, dict):
            raise UsageError("analyze: must be a mapping of analyze options")
        executor = data.get("executor", "local")
        if executor not in EXECUTORS:
            raise UsageError(f"executor: unknown {executor!r}; use {', '.join(EXECUTORS)}")
        for key in ("out", "metric"):
            if key in data and (not isinstance(data[key], str) or not data[key].strip()):
                raise UsageError(f"{key}: must be a non-empty string, got {data[key]!r}")
        if "metric" in data:
            _metric(data["metric"])
        spec = cls(path=path, models=_models("models", data["models"]),
                   seeds=_ints("seeds", data.get("seeds", [0])),
                   presets=_presets("presets", data.get("presets", ["two_shot"])),
                   options=_options("analyze", analyze),
                   out=Path(data.get("out", path.stem)),
                   executor=executor, slurm=_slurm("slurm", data.get("slurm", {})),
                   metric=data.get("metric"))
        spec.jobs()  # every job's AnalyzeConfig is built (and so validated) now
        return spec

    def jobs(self, out: str | Path | None = None) -> list[Job]:
        """Every job, models outermost, then seeds, then presets."""
        root = Path(out if out is not None else self.out).expanduser().absolute()
        try:
            AnalyzeConfig(model="-", **self.options)
        except UsageError as exc:
            raise UsageError(f"analyze: {exc}") from None
        jobs = []
        for k, m in enumerate(self.models):
            for seed in self.seeds:
                for preset in self.presets:
                    name = job_name(m.name, seed, preset)
                    try:
                        cfg = AnalyzeConfig(model=m.model, out=str(root / name), seed=seed,
                                            preset=preset, **{**self.options, **m.options})
                    except UsageError as exc:
                        raise UsageError(f"models[{k}] ({m.name}): {exc}") from None
                    jobs.append(Job(name, m.name, seed, preset, cfg))
        return jobs


# ---- which jobs are finished -------------------------------------------------------------------

def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    plain = json.loads(json.dumps(dict(config), default=list))
    return {k: v for k, v in plain.items() if k not in _NOT_COMPARED}


def read_results(folder: Path) -> dict[str, Any] | None:
    """A run folder's results.json, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "config" in data else None


def finished(job: Job) -> Literal["done", "stale", "pending"]:
    """``done``: the folder holds results.json for this very configuration; ``stale``: for
    another one (the YAML was edited); ``pending``: no usable results.json."""
    results = read_results(job.folder)
    if results is None:
        return "pending"
    same = _comparable(results["config"]) == _comparable(job.config.to_dict())
    return "done" if same else "stale"


def read_manifest(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"jobs": {}}
    ok = isinstance(data, dict) and isinstance(data.get("jobs"), dict)
    return data if ok else {"jobs": {}}


@dataclass(frozen=True)
class Planned:
    job: Job
    state: JobState
    run: bool


def plan(spec: SweepSpec, out: str | Path | None = None, retry_failed: bool = False
         ) -> list[Planned]:
    """Every job with its state and whether this invocation runs it: finished jobs never,
    jobs that failed last time only with ``retry_failed``."""
    jobs = spec.jobs(out)
    manifest = read_manifest(jobs[0].folder.parent)["jobs"]
    out_plan = []
    for job in jobs:
        state: JobState = finished(job)
        if state == "pending" and manifest.get(job.name, {}).get("status") == "failed":
            state = "failed"
        out_plan.append(Planned(job, state, state in ("pending", "stale") or (
            state == "failed" and retry_failed)))
    return out_plan


# ---- running ----------------------------------------------------------------------------------

def run_job(cfg: AnalyzeConfig) -> dict[str, Any]:
    """Run one job and say how it went, never raising: one job's failure must not end the
    sweep (in-process) or lose its message (on a cluster, where this runs remotely and its
    return value is what comes back). A user error is its one line; anything else is a bug
    and its traceback is kept for the log."""
    t0 = time.perf_counter()
    try:
        run_suite(cfg)
    except AffectBatteryError as exc:
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "seconds": round(time.perf_counter() - t0, 2)}
    except Exception as exc:  # a bug in one model's run: recorded with its traceback
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
                "traceback": traceback.format_exc(),
                "seconds": round(time.perf_counter() - t0, 2)}
    finally:
        _release_memory()
    return {"status": "done", "error": None, "seconds": round(time.perf_counter() - t0, 2)}


def _release_memory() -> None:
    """Free the finished job's model before the next one loads (in-process sweeps)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class _Manifest:
    """OUT/manifest.json: the last outcome of every job, rewritten whole after each one."""

    def __init__(self, out: Path, spec: SweepSpec, executor: str) -> None:
        self.out, self.data = out, read_manifest(out)
        self.data.update({"spec": str(spec.path), "executor": executor})

    def record(self, job: Job, outcome: Mapping[str, Any]) -> None:
        entry = {"model": job.config.model, "label": job.model, "seed": job.seed,
                 "preset": job.preset, "folder": job.name, "status": outcome["status"],
                 "error": outcome.get("error"), "seconds": outcome.get("seconds"),
                 "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
        if outcome.get("job_id"):
            entry["job_id"] = outcome["job_id"]
        if outcome.get("traceback"):
            log = self.out / LOGS / f"{job.name}.traceback.txt"
            atomic_write_text(log, outcome["traceback"])
            entry["traceback"] = str(log.relative_to(self.out))
        self.data["jobs"][job.name] = entry
        atomic_write_text(self.out / MANIFEST, json.dumps(self.data, indent=2) + "\n")


Echo = Callable[[str], None]


def _echo_outcome(echo: Echo, k: int, n: int, job: Job, outcome: Mapping[str, Any]) -> None:
    if outcome["status"] == "done":
        echo(f"[{k}/{n}] {job.name}: done in {outcome.get('seconds', 0):.1f} s")
    else:
        echo(f"[{k}/{n}] {job.name}: FAILED: {outcome.get('error')}")


def _run_local(jobs: list[Job], manifest: _Manifest, echo: Echo) -> list[dict[str, Any]]:
    outcomes = []
    for k, job in enumerate(jobs, 1):
        echo(f"[{k}/{len(jobs)}] {job.name}: running")
        outcome = run_job(job.config)
        manifest.record(job, outcome)
        _echo_outcome(echo, k, len(jobs), job, outcome)
        outcomes.append(outcome)
    return outcomes


def _check_executor(executor: str) -> None:
    """Before any job runs: submitit installed (checked without importing it, one line naming
    the extra) and, for slurm, a cluster to submit to."""
    if executor == "local":
        return
    if not installed("submitit"):
        raise MissingExtra("sweep", ["submitit"], f"executor {executor}")
    if executor == "slurm":
        import submitit

        if submitit.SlurmExecutor.affinity() <= 0:  # submitit's own test: srun on PATH
            raise UsageError("executor slurm: no Slurm here (srun not on PATH); use --executor "
                             "local, or run the sweep on a login node")


def _submitit_executor(spec: SweepSpec, out: Path, cluster: str) -> Any:
    import submitit

    executor = submitit.AutoExecutor(folder=out / LOGS / "submitit", cluster=cluster)
    executor.update_parameters(name="affect-battery-sweep", **spec.slurm.parameters(cluster))
    return executor


def _collect(submitted: Any, job: Job) -> dict[str, Any]:
    try:
        outcome = dict(submitted.result())
    except Exception as exc:  # the cluster's word on a job that died (timeout, memory, node)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        outcome = {"status": "failed", "error": f"{type(exc).__name__}: {first}"}
    outcome["job_id"] = str(submitted.job_id)
    return outcome


def _run_submitit(jobs: list[Job], spec: SweepSpec, out: Path, cluster: str,
                  manifest: _Manifest, echo: Echo) -> list[dict[str, Any]]:
    """Slurm: every job submitted at once as one array (``array_parallelism`` caps how many run
    together). Local: waves of ``array_parallelism`` (default 1) subprocesses, since every local
    job would otherwise start at once on the same CPUs or GPU."""
    executor = _submitit_executor(spec, out, cluster)
    wave = len(jobs) if cluster == "slurm" else (spec.slurm.array_parallelism or 1)
    outcomes: list[dict[str, Any]] = []
    for start in range(0, len(jobs), wave):
        batch = jobs[start:start + wave]
        with executor.batch():
            handles = [executor.submit(run_job, job.config) for job in batch]
        for job, handle in zip(batch, handles, strict=True):
            echo(f"submitted {job.name} as job {handle.job_id}")
        for k, (job, handle) in enumerate(zip(batch, handles, strict=True), start + 1):
            outcome = _collect(handle, job)
            manifest.record(job, outcome)
            _echo_outcome(echo, k, len(jobs), job, outcome)
            outcomes.append(outcome)
    return outcomes


@dataclass
class SweepOutcome:
    planned: list[Planned]
    outcomes: dict[str, dict[str, Any]]  # job name -> outcome, for the jobs run now
    comparison: Comparison | None = None

    @property
    def failed(self) -> list[str]:
        """Jobs that failed now, and those that failed before and were not retried."""
        before = [p.job.name for p in self.planned if p.state == "failed" and not p.run]
        return before + [n for n, o in self.outcomes.items() if o["status"] != "done"]


def run_sweep(spec: SweepSpec, out: str | Path | None = None, executor: Executor | None = None,
              retry_failed: bool = False, metric: str | None = None,
              echo: Echo = lambda _: None) -> SweepOutcome:
    """Run the jobs that are not finished, record each outcome, then compare every finished
    run. Returns what was planned and what happened; failures do not raise."""
    executor = executor or spec.executor
    if executor not in EXECUTORS:
        raise UsageError(f"executor: unknown {executor!r}; use {', '.join(EXECUTORS)}")
    if metric is not None:
        _metric(metric)
    _check_executor(executor)
    planned = plan(spec, out, retry_failed)
    root = planned[0].job.folder.parent
    todo = [p.job for p in planned if p.run]
    skipped = len(planned) - len(todo)
    echo(f"{len(planned)} jobs: {len(todo)} to run, {skipped} skipped (finished"
         f"{'' if retry_failed else ' or failed before'})")
    root.mkdir(parents=True, exist_ok=True)
    manifest = _Manifest(root, spec, executor)
    for p in planned:  # finished folders the manifest does not know (e.g. deleted) are noted
        if p.state == "done" and p.job.name not in manifest.data["jobs"]:
            manifest.record(p.job, {"status": "done", "error": None})
    if not todo:
        outcomes = []
    elif executor == "local":
        outcomes = _run_local(todo, manifest, echo)
    else:
        cluster = "slurm" if executor == "slurm" else "local"
        outcomes = _run_submitit(todo, spec, root, cluster, manifest, echo)
    result = SweepOutcome(planned, {j.name: o for j, o in zip(todo, outcomes, strict=True)})
    if any(finished(p.job) == "done" for p in planned):
        result.comparison = compare(spec, out, metric)
    return result


# ---- comparison -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    """A per-layer figure of results.json: where it is, and the level that means nothing."""

    path: tuple[str, ...]
    label: str
    reference: float | None


METRICS: dict[str, Metric] = {
    "paired_margin": Metric(("probing", "binary", "paired", "margin_vs_tfidf_by_layer"),
                            "pair win rate margin over TF-IDF (clinical vs neutral)", 0.0),
    "pair_win_rate": Metric(("probing", "binary", "paired", "win_rate_by_layer"),
                            "pair win rate (clinical vs neutral)", 0.5),
    "difference_accuracy": Metric(("probing", "binary", "paired",
                                   "difference_accuracy_by_layer"),
                                  "difference-probe accuracy (clinical vs neutral)", 0.5),
    "moderate_paired_margin": Metric(("probing", "moderate", "paired",
                                      "margin_vs_tfidf_by_layer"),
                                     "pair win rate margin over TF-IDF (moderate vs neutral)",
                                     0.0),
    "moderate_pair_win_rate": Metric(("probing", "moderate", "paired", "win_rate_by_layer"),
                                     "pair win rate (moderate vs neutral)", 0.5),
    "auroc": Metric(("probing", "binary", "auroc_by_layer"),
                    "unpaired AUROC (clinical vs neutral)", 0.5),
    "eight_class_macro_auroc": Metric(("probing", "eight_class", "macro_auroc_by_layer"),
                                      "8-class macro AUROC", 0.5),
}
"""Named per-layer metrics; any other dotted path to a ``*_by_layer`` block works too."""
DEFAULT_METRICS = ("paired_margin", "auroc")  # the first that the runs have is the default


def _metric(name: str) -> Metric:
    if name in METRICS:
        return METRICS[name]
    if "." in name:
        return Metric(tuple(name.split(".")), name, None)
    raise UsageError(f"metric: unknown {name!r}; use {', '.join(METRICS)} or a dotted path "
                     "to a by-layer block of results.json, e.g. probing.binary.auroc_by_layer")


def _number(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def by_layer(results: Mapping[str, Any], metric: Metric) -> dict[int, tuple[float, float, float]]:
    """``{layer: (value, ci_low, ci_high)}`` of one run (NaN where absent); intervals, as the
    paired margins are, give their estimate and bounds, plain numbers have no bounds."""
    node: Any = results
    for key in metric.path:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return {}
    out = {}
    for layer, v in node.items():
        try:
            layer_n = int(layer)
        except ValueError:
            continue
        if isinstance(v, dict):
            out[layer_n] = (_number(v.get("estimate")), _number(v.get("ci_low")),
                            _number(v.get("ci_high")))
        else:
            out[layer_n] = (_number(v), math.nan, math.nan)
    return out


def comparison_table(jobs: list[Job], metric_names: Iterable[str]) -> pd.DataFrame:
    """One row per finished run and layer: the run's coordinates, the layer's relative depth
    ``layer / (n_layers - 1)`` and every metric asked for (with bounds where it has them)."""
    rows = []
    for job in jobs:
        results = read_results(job.folder)
        if results is None:
            continue
        n_layers = int(results.get("model", {}).get("n_layers") or 0)
        per = {name: by_layer(results, _metric(name)) for name in metric_names}
        layers = sorted(set(results.get("layers") or []).union(*(p.keys() for p in per.values())))
        for layer in layers:
            row: dict[str, Any] = {
                "run": job.name, "model": job.model, "model_id": job.config.model,
                "seed": job.seed, "preset": job.preset, "layer": layer, "n_layers": n_layers,
                "relative_depth": layer / (n_layers - 1) if n_layers > 1 else 0.0}
            for name, values in per.items():
                est, lo, hi = values.get(layer, (math.nan,) * 3)
                row[name] = est
                if any(not math.isnan(v[1]) for v in values.values()):
                    row[f"{name}_ci_low"], row[f"{name}_ci_high"] = lo, hi
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class Comparison:
    """The comparison across runs: the long table, each run's best layer and the means over
    seeds (per model and preset), for one metric."""

    metric: str
    table: pd.DataFrame
    best: pd.DataFrame
    summary: pd.DataFrame
    missing: list[str]


def _choose_metric(jobs: list[Job], metric: str | None) -> str:
    results = [r for r in (read_results(j.folder) for j in jobs) if r is not None]
    if metric is not None:
        if not any(by_layer(r, _metric(metric)) for r in results):
            raise UsageError(f"metric {metric!r}: none of the runs' results.json has it")
        return metric
    for name in DEFAULT_METRICS:
        if any(by_layer(r, METRICS[name]) for r in results):
            return name
    raise UsageError("no run has a per-layer probing metric (was probing among the methods?)")


def _best(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per run, the layer where the metric peaks (the earliest on a tie; NaN layers ignored)."""
    valid = table.dropna(subset=[metric]).sort_values(["run", "layer"])
    idx = valid.groupby("run", sort=False)[metric].idxmax()
    cols = ["run", "model", "seed", "preset", "layer", "n_layers", "relative_depth", metric]
    cols += [c for c in (f"{metric}_ci_low", f"{metric}_ci_high") if c in table]
    return valid.loc[idx, cols].sort_values(["model", "preset", "seed"]).reset_index(drop=True)


def _summary(best: pd.DataFrame, metric: str) -> pd.DataFrame:
    g = best.groupby(["model", "preset"], sort=True)
    return pd.DataFrame({
        "n_seeds": g["seed"].nunique(), "mean": g[metric].mean(), "min": g[metric].min(),
        "max": g[metric].max(), "mean_best_relative_depth": g["relative_depth"].mean(),
    }).reset_index()


def compare(spec: SweepSpec, out: str | Path | None = None, metric: str | None = None
            ) -> Comparison:
    """Read every finished job's results.json and write comparison.csv, comparison.md and
    comparison.png into the sweep folder."""
    jobs = spec.jobs(out)
    root = jobs[0].folder.parent
    done = [j for j in jobs if read_results(j.folder) is not None]
    if not done:
        raise UsageError(f"{root}: no finished runs to compare")
    chosen = _choose_metric(done, metric or spec.metric)
    names = list(dict.fromkeys([chosen, *METRICS]))
    table = comparison_table(done, names)
    table = table.dropna(axis=1, how="all")  # metrics no run has are left out
    best = _best(table, chosen)
    comp = Comparison(chosen, table, best, _summary(best, chosen),
                      [j.name for j in jobs if j not in done])
    atomic_write_text(root / "comparison.csv", table.to_csv(index=False, float_format="%.6f"))
    atomic_write_text(root / "comparison.md", comparison_markdown(comp))
    comparison_figure(comp, root / "comparison.png")
    return comp


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def _md_table(header: list[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    # A pipe table by hand: pandas.to_markdown needs tabulate, one more dependency for 3 lines.
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]


def comparison_markdown(comp: Comparison) -> str:
    m, label = comp.metric, _metric(comp.metric).label
    ci = f"{m}_ci_low" in comp.best
    lines = [f"# Sweep comparison: {label}", "",
             f"Metric `{m}`, higher is better; the best layer of a run is where it peaks "
             "(earliest on a tie); relative depth is layer / (layers - 1).", "",
             "## Mean over seeds (at each run's best layer)", ""]
    lines += _md_table(["model", "preset", "seeds", f"mean {m}", "min", "max",
                        "mean best relative depth"],
                       comp.summary[["model", "preset", "n_seeds", "mean", "min", "max",
                                     "mean_best_relative_depth"]].itertuples(index=False))
    lines += ["", "## Best layer per run", ""]
    header = ["run", "model", "seed", "preset", "best layer", "of", "relative depth", m]
    rows = []
    for r in comp.best.to_dict("records"):
        row = [r["run"], r["model"], r["seed"], r["preset"], r["layer"], r["n_layers"],
               r["relative_depth"], r[m]]
        if ci:
            row.append(f"[{_fmt(r[f'{m}_ci_low'])}, {_fmt(r[f'{m}_ci_high'])}]")
        rows.append(row)
    lines += _md_table(header + (["95% CI"] if ci else []), rows)
    if comp.missing:
        lines += ["", f"Not compared (no results yet): {', '.join(comp.missing)}."]
    return "\n".join(lines) + "\n"


def comparison_figure(comp: Comparison, path: Path) -> None:
    """The metric by relative depth, one line per model (mean over seeds) with the seeds'
    min-max as a band; one panel per prompt preset."""
    plt = pyplot()
    table, m, meta = comp.table, comp.metric, _metric(comp.metric)
    presets = sorted(table["preset"].unique())
    fig, axes = plt.subplots(1, len(presets), figsize=(6.5 * len(presets), 4), dpi=120,
                             squeeze=False, sharey=True)
    colours = {model: f"C{k % 10}" for k, model in enumerate(sorted(table["model"].unique()))}
    for ax, preset in zip(axes[0], presets, strict=True):
        sub = table[table["preset"] == preset]
        for model, rows in sub.groupby("model", sort=True):
            curve = rows.groupby("relative_depth")[m].agg(["mean", "min", "max", "count"])
            n = rows["seed"].nunique()
            ax.plot(curve.index, curve["mean"], "-o", ms=3, color=colours[model],
                    label=f"{model} ({n} seed{'s' if n != 1 else ''})")
            if n > 1:
                ax.fill_between(curve.index, curve["min"], curve["max"], color=colours[model],
                                alpha=0.2, lw=0)
        if meta.reference is not None:
            ax.axhline(meta.reference, color="grey", lw=0.8, ls="--")
        ax.set_xlim(0, 1)
        ax.set_xlabel("relative depth (layer / (layers - 1))")
        ax.set_title(f"prompt preset: {preset}", fontsize=9)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel(meta.label)
    fig.suptitle("Sweep: mean over seeds, band = min-max over seeds", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
