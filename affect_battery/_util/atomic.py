"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or a refused input never leaves a half-written report where a user (or CI) would read it.
:func:`write_output_text` is the guarded form for a path a user names (``--output``): it renames
only onto a regular file or a missing path, never onto a folder, device, FIFO, socket or (unless
asked) a symbolic link, and never onto one of the run's input files.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import UsageError


class OutputPathError(UsageError):
    """A user-named output path that must not be written; ``str(exc)`` is one line (exit 2)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: 0666 less the umask."""
    return 0o666 & ~_umask()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise OutputPathError(f"{path}: a parent of the output path is not a folder") from None
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot inspect the output path ({exc.strerror})") from None


def check_output_path(path: str | Path, *, follow_symlinks: bool = False,
                      inputs: Iterable[str | Path] = ()) -> Path:
    """The path to write a report to, or :class:`OutputPathError` saying why not.

    Accepted: a missing path (its existing ancestors must be folders) or a regular file. A
    symbolic link is refused unless ``follow_symlinks``; then its final target is returned and
    judged by the same rules. A path that is (the same file as) one of ``inputs`` is refused.
    """
    path = Path(path)
    if str(path) == "":
        raise OutputPathError("the output path is empty")
    st = _lstat(path)
    if st is not None and stat.S_ISLNK(st.st_mode):
        if not follow_symlinks:
            raise OutputPathError(f"{path}: is a symbolic link; refusing to replace it "
                                  "(give --follow-symlinks to write to its target)")
        path = Path(os.path.realpath(path))
        st = _lstat(path)
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise OutputPathError(f"{path}: symbolic link that does not resolve (a loop?)")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputPathError(f"{path}: is {_kind(st.st_mode)}; the output must be a regular "
                              "file or a new path")
    if st is None:
        # Missing: every existing ancestor must be a folder (lstat above already refuses a
        # regular file on the way with ENOTDIR; this catches the nearest existing ancestor).
        for parent in path.absolute().parents:
            pst = _lstat(parent)
            if pst is None:
                continue
            try:
                is_dir = stat.S_ISDIR(os.stat(parent).st_mode)
            except OSError:
                is_dir = False
            if not is_dir:
                raise OutputPathError(f"{path}: {parent} is {_kind(pst.st_mode)}, not a folder")
            break
        return path
    real = os.path.realpath(path)
    for inp in inputs:
        try:
            ist = os.stat(inp)
        except OSError:
            continue
        if (ist.st_dev, ist.st_ino) == (st.st_dev, st.st_ino) or os.path.realpath(inp) == real:
            raise OutputPathError(f"{path}: is the input file {inp}; refusing to overwrite it")
    return path


def write_output_text(path: str | Path, text: str, *, follow_symlinks: bool = False,
                      inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``text`` to a user-named path, atomically and only where :func:`check_output_path`
    allows. A new file gets the umask's mode; a replaced regular file keeps its permissions."""
    target = check_output_path(path, follow_symlinks=follow_symlinks, inputs=inputs)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{target}: cannot create its folder ({exc.strerror})") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputPathError(f"{target}: cannot write beside it ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            old = _lstat(target)
            mode = (stat.S_IMODE(old.st_mode) & 0o777 if old is not None
                    and stat.S_ISREG(old.st_mode) else _new_file_mode())
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        # Look again just before the rename: something may have appeared since the check.
        st = _lstat(target)
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise OutputPathError(f"{target}: is {_kind(st.st_mode)}; the output must be a "
                                  "regular file or a new path")
        os.replace(tmp, target)
    except OutputPathError:
        Path(tmp).unlink(missing_ok=True)
        raise
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputPathError(f"{target}: cannot write the report ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), _new_file_mode())  # mkstemp creates 0600
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


class atomic_dir:
    """Build a folder beside ``target`` and swap it into place only if the block succeeds.

    ``with atomic_dir(out) as tmp: write files into tmp``. On an exception the temporary folder
    is removed and ``target`` is left exactly as it was.
    """

    def __init__(self, target: str | Path) -> None:
        self.target = Path(target)

    def __enter__(self) -> Path:
        import tempfile

        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.",
                                         dir=self.target.parent))
        # mkdtemp creates 0700 whatever the umask; a folder made by mkdir would get this.
        self.tmp.chmod(0o777 & ~_umask())
        return self.tmp

    def __exit__(self, exc_type: object, *_: object) -> None:
        import shutil

        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        old = self.target.with_name(f".{self.target.name}.old-{os.getpid()}")
        if self.target.exists():
            self.target.rename(old)
        self.tmp.rename(self.target)
        shutil.rmtree(old, ignore_errors=True)
