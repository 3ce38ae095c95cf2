"""The sweep's YAML file: models x seeds x prompt presets and shared analyze options, checked
whole at load (unknown keys, types, empty lists) and every job's ``AnalyzeConfig`` built before
anything runs."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ...errors import UsageError
from ..config import AnalyzeConfig
from ..prompts import PRESETS
from .metrics import metric_named

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
            metric_named(data["metric"])
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
