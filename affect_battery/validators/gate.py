"""The CI gate: new items are checked together with a base of existing items.

New items must be well-formed, keyword-free (or keyword-rich where they should be), free of
control, bidirectional, invisible and mixed-script characters (``unicode_safety``), matched to
their partners, free of id collisions and near-duplicates of existing texts.

The *base* the new items join is, in order of precedence: a repository's own stimuli
(``root``, ``gate --root DIR``), the battery under ``$AFFECT_BATTERY_DATA``, or the shipped
battery. A given file that is one of the base's files (same resolved path) replaces its version
there, and an item whose id and text both equal a base item is that item, not a collision, so
the gate runs on edits of a battery (pre-commit, pull requests) and on a fork's copies of the
shipped files as well as on new files. Pairs resolve across all files of the set: the given
files plus the base.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..core.battery import ROW_SCHEMA_CLEAN, read_battery_with_findings
from ..core.findings import Finding
from ..core.ids import BadId, parse_id
from ..core.items import complete_items, printable, read_items
from ..core.paths import stimuli_dir
from ..core.schema import DEFAULT_CONFIG, IntegrityConfig, summarise, validate_frame
from ..errors import UsageError
from .keyword_screen import keyword_findings
from .lexicon import Lexicon
from .unicode_safety import unicode_findings

REPORT_SCHEMA_VERSION = 1
STIMULUS_SUFFIXES = (".jsonl", ".csv", ".parquet")
"""The files a ``--root`` folder contributes to the base (its other files are not stimuli)."""


@dataclass
class GateReport:
    files: list[str]
    n_items: int
    findings: list[Finding]
    strict: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "affect_battery_version": __version__,
            "files": self.files,
            "n_items": self.n_items,
            "strict": self.strict,
            "ok": not self.errors,
            "counts": summarise(self.findings),
            "findings": [f.to_dict() for f in self.findings],
            **self.extra,
        }


def _valid_id_rows(frame: pd.DataFrame) -> pd.Series:
    def ok(i: Any) -> bool:
        try:
            parse_id(i)
            return True
        except BadId:
            return False
    return frame["id"].map(ok)


def check_items(new: pd.DataFrame, base: pd.DataFrame | None, *, strict: bool = False,
                lexicon: Lexicon | None = None, cfg: IntegrityConfig = DEFAULT_CONFIG
                ) -> list[Finding]:
    """Findings about the items in ``new`` when added to ``base`` (the rest of the battery)."""
    findings: list[Finding] = []
    new_ids = set(new["id"])
    # base rows whose table passed the row schema when it was cached need no second look
    trusted = set(base["id"]) - new_ids if base is not None and base.attrs.get(
        ROW_SCHEMA_CLEAN) else set()
    if base is not None and len(base):
        clash = base[base["id"].isin(new_ids)]
        # the same id with the same text is the same item (a fork's copy of a shipped file, a
        # file moved within the repository): it replaces the base's row, it does not collide
        same = set(zip(new["id"], new["text"], strict=True))
        differs = [pair not in same for pair in zip(clash["id"], clash["text"], strict=True)]
        clash = clash.loc[pd.Series(differs, index=clash.index, dtype=bool)]
        for rec in clash.to_dict(orient="records"):
            where = new[new["id"] == rec["id"]].iloc[0]
            findings.append(Finding(
                "id-collision", f"id already exists in the battery ({rec['_file']})",
                rec["id"], where["_file"], int(where["_line"])))
        base = base[~base["id"].isin(new_ids)]
        combined = pd.concat([base, new], ignore_index=True)
    else:
        combined = new.reset_index(drop=True)
    combined = combined[_valid_id_rows(combined)].reset_index(drop=True)
    focus = new_ids if base is not None and len(base) else None
    for f in validate_frame(combined, strict=strict, cfg=cfg, focus=focus, trusted=trusted):
        if f.item_id is None or f.item_id in new_ids:
            findings.append(f)
    valid_new = new[_valid_id_rows(new)]
    findings += keyword_findings(valid_new, lexicon)
    findings += unicode_findings(valid_new)
    return _sorted(findings)


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.item_id or "", f.code))


def stimulus_root(directory: str | Path) -> Path:
    """The stimulus folder that ``gate --root DIR`` names: ``DIR/data/stimuli`` (the battery's
    own layout), else ``DIR/stimuli``, else ``DIR`` itself.

    Accepting a repository root lets a pre-commit hook pass ``--root .`` whatever the layout; a
    missing or non-folder DIR is a :class:`UsageError` (one line, exit 2).
    """
    d = Path(directory)
    label = printable(str(d))
    if not d.exists():
        raise UsageError(f"--root {label}: no such folder")
    if not d.is_dir():
        raise UsageError(f"--root {label}: not a folder")
    for candidate in (d / "data" / "stimuli", d / "stimuli"):
        if candidate.is_dir():
            return candidate
    return d


def root_stimulus_files(folder: str | Path) -> list[Path]:
    """Every ``.jsonl``, ``.csv`` and ``.parquet`` file below ``folder``, hidden names skipped,
    in a stable order. Nested folders count, as the workflow's ``data/stimuli/**`` globs do; an
    unreadable folder is a :class:`UsageError` rather than a silently smaller base."""
    def refuse(exc: OSError) -> None:
        where = printable(str(exc.filename or folder))
        raise UsageError(f"--root {where}: cannot read folder ({exc.strerror or exc})")

    found: list[Path] = []
    for here, dirs, names in os.walk(folder, onerror=refuse):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(here) / n for n in sorted(names)
                  if not n.startswith(".") and Path(n).suffix.lower() in STIMULUS_SUFFIXES]
    return found


def _resolved(path: str | Path) -> str:
    return str(Path(path).resolve())


def _root_base(folder: Path, replaced: set[str]) -> pd.DataFrame | None:
    """A repository's own items, less the files being gated (their new version is the one)."""
    files = [f for f in root_stimulus_files(folder) if _resolved(f) not in replaced]
    if not files:
        return None
    frame, _ = complete_items(pd.concat([read_items(f) for f in files], ignore_index=True))
    return frame


def run_gate(paths: Sequence[str | Path], *, with_battery: bool = True, strict: bool = False,
             battery_root: str | Path | None = None, root: str | Path | None = None,
             lexicon: Lexicon | None = None, cfg: IntegrityConfig = DEFAULT_CONFIG
             ) -> GateReport:
    """Check new item files. Raises :class:`InputError` for unusable input (exit 2).

    The base is ``root``'s stimuli (:func:`stimulus_root`; ``with_battery`` is then moot) if
    given, else the battery at ``battery_root`` (default: ``$AFFECT_BATTERY_DATA``'s, else the
    shipped one) unless ``with_battery`` is false. ``report.extra["base"]`` names it.
    """
    folder = stimulus_root(root) if root is not None else None  # judged before any reading
    raws = [read_items(p) for p in paths]
    raw = pd.concat(raws, ignore_index=True)
    new, findings = complete_items(raw)
    replaced = {_resolved(p) for p in paths}
    base: pd.DataFrame | None = None
    base_label: str | None = None
    if folder is not None:
        base, base_label = _root_base(folder, replaced), str(folder)
    elif with_battery:
        base, _ = read_battery_with_findings(battery_root)
        # resolved once per file, not per row: a path resolution is a system call each
        gated = {f for f in base["_file"].unique() if _resolved(f) in replaced}
        base = base[~base["_file"].isin(gated)] if gated else base
        base_label = str(battery_root if battery_root is not None else stimuli_dir())
    findings += check_items(new, base, strict=strict, lexicon=lexicon, cfg=cfg)
    return GateReport([str(p) for p in paths], len(new), _sorted(_dedupe(findings)), strict,
                      extra={"base": base_label})


def check_battery(*, strict: bool = True, battery_root: str | Path | None = None,
                  lexicon: Lexicon | None = None, cfg: IntegrityConfig = DEFAULT_CONFIG
                  ) -> GateReport:
    """Structural and keyword checks of the shipped battery itself (``validate --schema-only``)."""
    frame, findings = read_battery_with_findings(battery_root)
    files = sorted(set(frame["_file"])) if len(frame) else []
    if len(frame):
        findings += check_items(frame, None, strict=strict, lexicon=lexicon, cfg=cfg)
    elif strict:
        findings.append(Finding("count", "the battery has no items"))
    return GateReport(files, len(frame), _sorted(_dedupe(findings)), strict)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        key = (f.code, f.message, f.item_id, f.file, f.line)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


# ---- output formats ------------------------------------------------------------------------

def format_text(report: GateReport) -> str:
    # ids (and any other given value) are printed escaped: one finding is always one line
    lines = [printable(str(f)) for f in report.findings]
    n_err = len(report.errors)
    status = "OK" if not n_err else "FAILED"
    detail = ", ".join(f"{k}: {v}" for k, v in summarise(report.findings).items())
    lines.append(f"{status}: {report.n_items} items checked, {n_err} error(s)"
                 + (f" ({detail})" if detail else ""))
    return "\n".join(lines) + "\n"


def format_json(report: GateReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _gh_escape(value: str, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def format_github(report: GateReport) -> str:
    """GitHub Actions workflow commands: annotations on the offending file and line."""
    lines = []
    for f in report.findings:
        props = []
        if f.file:
            props.append(f"file={_gh_escape(f.file, True)}")
            if f.line:
                props.append(f"line={f.line}")
        props.append(f"title={_gh_escape(f'affect-battery {f.code}', True)}")
        level = "error" if f.severity == "error" else "warning"
        msg = f"{f.item_id}: {f.message}" if f.item_id else f.message
        lines.append(f"::{level} {','.join(props)}::{_gh_escape(printable(msg))}")
    lines.append(format_text(GateReport(report.files, report.n_items, [], report.strict))
                 .strip() if not report.errors else
                 f"FAILED: {report.n_items} items checked, {len(report.errors)} error(s)")
    return "\n".join(lines) + "\n"


MARKDOWN_MAX_ROWS = 200
"""Findings listed in a Markdown summary; GitHub caps a job summary at 1 MiB, and the
annotations and the report file carry every finding anyway."""


_MD_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()|<>~&])")


def _md_cell(value: object) -> str:
    """Plain Markdown text: controls escaped first (one value stays on one line), then every
    mark CommonMark could read as inline markup, a table cell break or HTML backslash-escaped
    (a value never starts a line here, so block markers such as ``#`` or ``-`` are inert)."""
    return _MD_PUNCTUATION.sub(r"\\\1", printable(str(value)))


def format_markdown(report: GateReport) -> str:
    """A Markdown summary (e.g. for ``$GITHUB_STEP_SUMMARY``): status, files gated, base, and a
    table of findings. Every value is escaped: an id or message cannot break the table."""
    n_err = len(report.errors)
    n_warn = len(report.findings) - n_err
    status = "OK" if not n_err else "FAILED"
    base = report.extra.get("base")
    lines = [f"### affect-battery gate: {status}", "",
             f"{report.n_items} items checked in {len(report.files)} file(s), "
             f"{n_err} error(s), {n_warn} warning(s); base: "
             + (_md_cell(base) if base else "none (files checked on their own)") + ".",
             "", "Files gated:", ""]
    lines += [f"- {_md_cell(f)}" for f in report.files]
    if report.findings:
        lines += ["", "| file | line | item | rule | severity | message |",
                  "|---|---|---|---|---|---|"]
        for f in report.findings[:MARKDOWN_MAX_ROWS]:
            lines.append("| " + " | ".join(_md_cell(v) for v in (
                f.file or "", f.line or "", f.item_id or "", f.code, f.severity, f.message))
                + " |")
        if len(report.findings) > MARKDOWN_MAX_ROWS:
            lines += ["", f"... and {len(report.findings) - MARKDOWN_MAX_ROWS} more finding(s) "
                      "(see the annotations or the report file)."]
    return "\n".join(lines) + "\n\n"  # a blank line: the next step's summary starts clean


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github,
              "markdown": format_markdown}
