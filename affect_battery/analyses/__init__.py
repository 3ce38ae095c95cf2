"""Reference mechanistic-interpretability analyses over the battery.

Python API (mirrors ``affect-battery analyze``)::

    from affect_battery.analyses import AnalyzeConfig, run_suite
    results = run_suite(AnalyzeConfig(model="smollm2-135m", out="run-smollm2"))

torch and transformers are imported only when a model is loaded. The two names are resolved on
first use (PEP 562), so importing one submodule (the CLI's options read ``config.METHODS``)
does not import the whole suite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import AnalyzeConfig
    from .suite import run_suite

__all__ = ["AnalyzeConfig", "run_suite"]


def __getattr__(name: str) -> Any:
    if name == "AnalyzeConfig":
        from .config import AnalyzeConfig
        return AnalyzeConfig
    if name == "run_suite":
        from .suite import run_suite
        return run_suite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
