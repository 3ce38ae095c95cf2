"""Writing a study folder: all of it or nothing, and never through a link or onto a device."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..._util.atomic import OutputPathError, atomic_dir, check_output_path
from . import label_studio
from .page import render_page, template
from .study import Study

FORMATS: tuple[str, ...] = ("html", "label-studio")


def check_study_dir(out: str | Path, *, force: bool = False) -> Path:
    """``out`` as a folder to (re)build: missing, or (with ``force``) an existing folder that is
    not a symbolic link. A file, device, FIFO or link there is refused (exit 2)."""
    path = Path(out)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        check_output_path(path)  # the ancestors must be folders
        return path
    if stat.S_ISLNK(st.st_mode):
        raise OutputPathError(f"{path}: is a symbolic link; refusing to write through it")
    if not stat.S_ISDIR(st.st_mode):
        raise OutputPathError(f"{path}: exists and is not a folder")
    if any(path.iterdir()) and not force:
        raise OutputPathError(f"{path}: folder is not empty (give --force to replace it)")
    return path


def write_study(out: Path, study: Study, texts: dict[str, str], *, fmt: str = "html",
                consent: str | None = None, instructions: str | None = None) -> list[str]:
    """Build the folder beside ``out`` and swap it in whole: ``study.json`` (the lab's key),
    ``consent.md`` and ``instructions.md`` (the texts used), and the pages or Label Studio files.
    Returns the written names, relative to ``out``."""
    if fmt not in FORMATS:
        raise OutputPathError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    consent = template("consent.md") if consent is None else consent
    instructions = template("instructions.md") if instructions is None else instructions
    names: list[str] = []
    with atomic_dir(out) as tmp:
        (tmp / "study.json").write_text(study.to_json(), encoding="utf-8")
        (tmp / "consent.md").write_text(consent, encoding="utf-8")
        (tmp / "instructions.md").write_text(instructions, encoding="utf-8")
        names += ["study.json", "consent.md", "instructions.md"]
        if fmt == "html":
            for sl in study.lists:
                name = f"list-{sl.list_id}.html"
                (tmp / name).write_text(render_page(study, sl, texts, consent=consent,
                                                    instructions=instructions),
                                        encoding="utf-8")
                names.append(name)
        else:
            names += [str(p.relative_to(tmp)) for p in label_studio.write_files(tmp, study,
                                                                                  texts)]
    return names
