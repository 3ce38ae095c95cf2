"""Which jobs of a sweep are finished: a job folder whose ``results.json`` records this job's
configuration is done (run folders are swapped in whole), one with another configuration is
stale; failures are remembered in ``OUT/manifest.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .spec import _NOT_COMPARED, MANIFEST, Job, JobState, SweepSpec

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
