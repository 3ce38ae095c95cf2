"""What one analyses run is asked to do: ``AnalyzeConfig``, frozen and validated when built.

Every choice is checked at construction, so a mistake (an unknown method, a bad dtype, a
negative count) is one :class:`~affect_battery.errors.UsageError` line before a model is
loaded, never a traceback half-way through a run. The config is never written to during a
run: timings and results live in :class:`~.result.RunResult`.

``METHODS`` is the one list of analysis methods: the config's validation, the CLI's help and
the suite all read it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from ..core.constants import SPLITS
from ..core.sources import FORMATS
from ..errors import UsageError
from .choices import (
    ABLATIONS,
    DEVICE_MAPS,
    DEVICES,
    DTYPES,
    METHODS,
    PRESETS,
    Ablation,
    Device,
    DeviceMap,
    Dtype,
    Method,
    Preset,
)
from .sae.io import check_spec, site_of_hook

__all__ = ["DEVICE_MAPS", "METHODS", "AnalyzeConfig", "Method"]
_CUDA_INDEX = re.compile(r"cuda:[0-9]+")  # an explicit GPU is accepted too


def _choices(field: str, given: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    bad = [g for g in given if g not in allowed]
    if bad:
        raise UsageError(f"{field}: unknown {', '.join(map(str, bad))}; use "
                         f"{', '.join(allowed)}")


def _at_least(field: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{field} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class AnalyzeConfig:
    """One run of the suite: the model, the methods, and every knob; defaults as the CLI's.

    ``seed`` is the only source of randomness: grouped folds, permutation nulls, resample
    ablation and subset choices all derive from it, and ``seed=0`` reproduces the published
    figures.
    """

    model: str
    out: str = "analysis"
    methods: tuple[Method, ...] = METHODS
    layers: tuple[int, ...] | None = None
    splits: tuple[str, ...] = SPLITS
    preset: Preset = "two_shot"
    device: Device = "cpu"
    device_map: DeviceMap | None = None  # shard one large model (accelerate); device is moot
    dtype: Dtype = "float32"
    batch_size: int = 16
    seed: int = 0
    patch_pairs: int = 8
    knockout_items: int = 8
    knockout_methods: tuple[Ablation, ...] = ABLATIONS
    steering_strengths: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    steering_items: int = 16
    n_permutations: int = 50
    use_cache: bool = True
    trust_remote_code: bool = False
    max_items: int | None = None
    progress: bool = False
    battery: str | None = None  # another battery (core.sources spec); None: the shipped one
    battery_format: str = "auto"
    sae: str | None = None  # SAE folder (sae-lens layout) or sae-lens RELEASE/ID; None: no sae
    sae_hook: str | None = None  # site the SAE reads, overriding its cfg.json's hook_name
    sae_top_k: int = 10  # affect latents ablated in the causal check
    sae_items: int = 64  # clinical items of the causal check

    def __post_init__(self) -> None:
        for name in ("methods", "splits", "knockout_methods", "steering_strengths"):
            value = getattr(self, name)
            if isinstance(value, str):  # "probing" is not ("p", "r", ...)
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(self.layers))
        self._validate()

    def _validate(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise UsageError("model: give a Hub id, a local folder or an alias")
        _choices("methods", self.methods, METHODS)
        _choices("splits", self.splits, SPLITS)
        _choices("knockout_methods", self.knockout_methods, ABLATIONS)
        _choices("preset", (self.preset,), PRESETS)
        _choices("dtype", (self.dtype,), DTYPES)
        _choices("battery_format", (self.battery_format,), FORMATS)
        if self.device_map is not None:
            _choices("device_map", (self.device_map,), DEVICE_MAPS)
        if self.device not in DEVICES and not _CUDA_INDEX.fullmatch(str(self.device)):
            raise UsageError(f"device: unknown {self.device}; use {', '.join(DEVICES)} or "
                             "cuda:N")
        for name in ("batch_size", "patch_pairs", "knockout_items", "steering_items",
                     "n_permutations"):
            _at_least(name, getattr(self, name), 1)
        _at_least("seed", self.seed, 0)
        _at_least("sae_top_k", self.sae_top_k, 0)
        _at_least("sae_items", self.sae_items, 1)
        if self.sae is not None:
            check_spec(self.sae)  # a release without the sae extra: one line, no model load
        if self.sae_hook is not None:
            site_of_hook(self.sae_hook)  # a malformed site is one line now, not mid-run
        if self.max_items is not None:
            _at_least("max_items", self.max_items, 1)
        if self.layers is not None and not self.layers:
            raise UsageError("layers: give at least one layer (or none, for all)")
        for layer in self.layers or ():
            _at_least("layers", layer, 0)
        if not self.steering_strengths or not all(
                isinstance(s, int | float) and not isinstance(s, bool)
                for s in self.steering_strengths):
            raise UsageError("steering_strengths: give one or more numbers")

    def to_dict(self) -> dict[str, Any]:
        """The ``config`` block of results.json (what reproduces the run; not ``progress``)."""
        out = {k: v for k, v in asdict(self).items() if k != "progress"}
        if self.layers is not None:
            out["layers"] = list(self.layers)
        return out
