"""The CI gate: new items are checked together with the shipped battery.

New items must be well-formed, keyword-free (or keyword-rich where they should be), free of
control, bidirectional, invisible and mixed-script characters (``unicode_safety``), matched to
their partners, free of id collisions and near-duplicates of existing texts. A file that is one
of the battery's own source files replaces its shipped version, so the gate can run on edits of
the battery itself (pre-commit, pull requests) as well as on new files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..core.battery import read_battery_with_findings
from ..core.findings import Finding
from ..core.ids import BadId, parse_id
from ..core.items import complete_items, printable, read_items
from ..core.schema import DEFAULT_CONFIG, IntegrityConfig, summarise, validate_frame
from .keyword_screen import keyword_findings
from .lexicon import Lexicon
from .unicode_safety import unicode_findings

REPORT_SCHEMA_VERSION = 1


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
    if base is not None and len(base):
        clash = base[base["id"].isin(new_ids)]
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
    for f in validate_frame(combined, strict=strict, cfg=cfg):
        if f.item_id is None or f.item_id in new_ids:
            findings.append(f)
    valid_new = new[_valid_id_rows(new)]
    findings += keyword_findings(valid_new, lexicon)
    findings += unicode_findings(valid_new)
    return _sorted(findings)


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.item_id or "", f.code))


def run_gate(paths: Sequence[str | Path], *, with_battery: bool = True, strict: bool = False,
             battery_root: str | Path | None = None, lexicon: Lexicon | None = None,
             cfg: IntegrityConfig = DEFAULT_CONFIG) -> GateReport:
    """Check new item files. Raises :class:`InputError` for unusable input (exit 2)."""
    raws = [read_items(p) for p in paths]
    raw = pd.concat(raws, ignore_index=True)
    new, findings = complete_items(raw)
    base = None
    if with_battery:
        base, _ = read_battery_with_findings(battery_root)
        replaced = {str(Path(p).resolve()) for p in paths}
        base = base[~base["_file"].map(lambda f: str(Path(f).resolve()) in replaced)]
    findings += check_items(new, base, strict=strict, lexicon=lexicon, cfg=cfg)
    return GateReport([str(p) for p in paths], len(new), _sorted(_dedupe(findings)), strict)


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


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}
