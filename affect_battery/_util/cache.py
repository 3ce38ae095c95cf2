"""A small content-addressed cache in the user's cache folder, for derived data only.

Why: every ``affect-battery gate`` run in CI used to re-read and re-complete the ~600 shipped
items before looking at the two new ones; the completed table depends only on the bytes of the
stimulus files and the package version, so it is computed once per machine and read back (an
Arrow IPC file; the compiled lexicon as JSON: no pickle, nothing in the cache can run code when
loaded). The cache is best effort:
an unreadable, missing or foreign entry is ignored and recomputed, a failed write is silent,
and ``AFFECT_BATTERY_NO_CACHE=1`` turns it off. Entries are written through a temporary file and
a rename inside a folder the user owns; a cache folder that is a symbolic link is not used.

Where: ``derived/`` under the package's one cache root (:func:`cache_root`, shared with the
analyses' converted models and activation caches): ``$AFFECT_BATTERY_CACHE``, else
``$XDG_CACHE_HOME/affect-battery``, else ``~/.cache/affect-battery``.
``AFFECT_BATTERY_NO_CACHE=1`` turns this cache off.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from .._version import __version__


def cache_root() -> Path:
    """The package's cache root (``$AFFECT_BATTERY_CACHE``, else the XDG cache folder)."""
    root = os.environ.get("AFFECT_BATTERY_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "affect-battery"


def cache_dir() -> Path | None:
    """The derived-data folder, or None when caching is off or the folder is not safe to use."""
    if os.environ.get("AFFECT_BATTERY_NO_CACHE", "").strip().lower() in ("1", "true", "yes"):
        return None
    folder = cache_root() / "derived"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        return None  # a symbolic link or someone else's folder: do not read or write there
    return folder


def content_key(kind: str, files: Iterable[Path], extra: str = "") -> str:
    """SHA-256 over the kind, the package version, ``extra`` and each file's name and bytes."""
    h = hashlib.sha256(f"{kind}\0{__version__}\0{extra}\0".encode())
    for f in files:
        h.update(str(f).encode("utf-8", "surrogateescape") + b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def cached_path(key: str, suffix: str) -> Path | None:
    """The entry's path if it exists as a regular file in a usable cache folder."""
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"{key}{suffix}"
    try:
        return path if stat.S_ISREG(os.lstat(path).st_mode) else None
    except OSError:
        return None


def store(key: str, suffix: str, write: Callable[[Path], None]) -> None:
    """Write an entry with ``write(tmp_path)``, then rename it into place; never raises."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
        os.close(fd)
        try:
            write(Path(tmp))
            os.replace(tmp, folder / f"{key}{suffix}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except Exception:  # a cache write must never fail the command that asked for it
        return
