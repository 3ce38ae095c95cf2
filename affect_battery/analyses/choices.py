"""The analyses' named choices (methods, devices, placements, dtypes, prompt presets, ablations)
as plain constants.

Why a module of its own: the command line builds every subcommand's options at start-up,
the ``gate`` included, and reading these lists must not import the modules that use them
(hooks, models, knockout: a fifth of a 2-item gate run's own import time). Each list is the
one source for its :class:`~.config.AnalyzeConfig` field, the CLI's choices and the module
that acts on it.
"""

from __future__ import annotations

from typing import Literal, get_args

Method = Literal["probing", "patching", "attribution", "knockout", "geometry", "steering",
                 "sae"]
METHODS: tuple[Method, ...] = get_args(Method)

Device = Literal["cpu", "cuda", "auto"]
DEVICES: tuple[Device, ...] = get_args(Device)

DeviceMap = Literal["auto", "balanced", "balanced_low_0", "sequential"]
DEVICE_MAPS: tuple[DeviceMap, ...] = get_args(DeviceMap)
"""accelerate's placement strategies: a model too large for one device is split by layer
across the visible GPUs (and CPU memory), and the hooks follow each module where it lives."""

Dtype = Literal["float32", "bfloat16", "float16"]
DTYPES: tuple[Dtype, ...] = get_args(Dtype)

Preset = Literal["two_shot", "raw"]
PRESETS: tuple[Preset, ...] = get_args(Preset)

Ablation = Literal["zero", "mean", "resample"]
ABLATIONS: tuple[Ablation, ...] = get_args(Ablation)
