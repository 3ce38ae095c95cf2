"""Running a sweep's jobs: in this process one after the other, or through submitit (a Slurm
job array, or its local executor); one job's failure never ends the sweep."""

from __future__ import annotations

import gc
import json
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..._util.atomic import atomic_write_text
from ..._util.extras import MissingExtra, installed
from ...errors import AffectBatteryError, UsageError
from ..config import AnalyzeConfig
from ..suite import run_suite
from .compare import Comparison, compare
from .metrics import metric_named
from .spec import EXECUTORS, LOGS, MANIFEST, Executor, Job, SweepSpec
from .state import Planned, finished, plan, read_manifest

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
        metric_named(metric)
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
