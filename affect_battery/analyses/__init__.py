"""Reference mechanistic-interpretability analyses over the battery.

Python API (mirrors ``affect-battery analyze``)::

    from affect_battery.analyses import AnalyzeConfig, run_suite
    results = run_suite(AnalyzeConfig(model="smollm2-135m", out="run-smollm2"))

torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

from .config import AnalyzeConfig
from .suite import run_suite

__all__ = ["AnalyzeConfig", "run_suite"]
