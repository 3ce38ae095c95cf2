"""Build the Hugging Face dataset folder: parquet per config and split, card, datasheet, manifest.

The export is deterministic (same version and data -> byte-identical files), refuses data that
fails strict validation, refuses a non-empty target without ``force``, and is written to a
temporary folder that replaces the target only when complete.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import yaml

from .._util.atomic import atomic_dir
from .._version import __version__
from ..core.battery import battery_frame, canonical_order, with_norms
from ..core.columns import NORMS_CONFIG, NORMS_SPLIT, parquet_name
from ..core.constants import LABELS, SPLITS
from ..core.digest import battery_digest
from ..core.items import to_typed_frame
from ..core.paths import package_data_dir
from ..core.schema import validate_frame
from ..errors import ExportError
from .card import DEFAULT_REPO_ID, render_card, render_datasheet
from .configs import config_tables, parquet_bytes
from .hub_yaml import Release, check_repo_id, read_release

REPORT_NAME = "defence_report.json"
RESULTS_NAME = "analyses_results.json"
MANIFEST = "MANIFEST.sha256"
CITATION = "CITATION.cff"

def citation_cff(repo_id: str = DEFAULT_REPO_ID) -> str:
    """CITATION.cff of the release: its version and the repository it is published in."""
    tag = Release(repo_id).tag
    cff = {
        "cff-version": "1.2.0",
        "message": "If you use affect-battery, please cite it as below.",
        "type": "dataset",
        "title": "affect-battery: a keyword-free emotion stimulus battery",
        "version": __version__,
        "authors": [{"name": "affect-battery contributors"}],
        "license": "Apache-2.0",
        "url": f"https://huggingface.co/datasets/{repo_id}",
        "identifiers": [{"type": "url",
                         "value": f"https://huggingface.co/datasets/{repo_id}/tree/{tag}",
                         "description": f"this version, the repository's tag {tag}"}],
        "keywords": ["emotion", "interpretability", "stimuli", "Plutchik"],
    }
    return yaml.safe_dump(cff, sort_keys=False, allow_unicode=True)


def changelog_text() -> str:
    for candidate in (Path(__file__).resolve().parent.parent / "_meta" / "CHANGELOG.md",
                      package_data_dir().parent / "CHANGELOG.md"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return f"# Changelog\n\n## {__version__}\n"


def manifest(folder: Path) -> str:
    lines = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            lines.append(f"{digest}  {p.relative_to(folder).as_posix()}")
    return "\n".join(lines) + "\n"


def build_files(frame: pd.DataFrame, report: dict[str, Any], results: dict[str, Any] | None,
                repo_id: str) -> dict[str, bytes]:
    """Every file of the export, by relative path (MANIFEST added by the writer)."""
    frame = canonical_order(frame)
    configs = config_tables(frame)
    files: dict[str, bytes] = {}
    for config in configs:
        for split, table in config.splits.items():
            files[config.path(split)] = parquet_bytes(table)
    norms = next(c for c in configs if c.name == NORMS_CONFIG)
    ratings = norms.splits[NORMS_SPLIT].to_pandas()
    files["README.md"] = render_card(frame, report, results, repo_id, ratings,
                                     configs).encode()
    files["DATASHEET.md"] = render_datasheet(frame, report, repo_id).encode()
    files[CITATION] = citation_cff(repo_id).encode()
    files["CHANGELOG.md"] = changelog_text().encode()
    files[REPORT_NAME] = (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()
    if results is not None:
        files[RESULTS_NAME] = (json.dumps(results, indent=2, sort_keys=True) + "\n").encode()
    return files


def check_report(frame: pd.DataFrame, report: dict[str, Any]) -> None:
    digest = battery_digest(frame)
    if report.get("battery_sha256") != digest:
        raise ExportError("the defence report was computed on different data (battery hash "
                          "mismatch); re-run 'affect-battery validate' and export again")
    if report.get("mode") != "strict":
        raise ExportError("the defence report was made in draft mode; a release export needs "
                          "'affect-battery validate' in strict mode")
    hits = report.get("keyword_screen", {}).get("items_with_hits_by_split", {})
    leaking = {s: n for s, n in hits.items() if s != "keyword_rich" and n}
    if leaking:
        raise ExportError(f"the defence report found emotion terms outside keyword_rich "
                          f"({leaking}); the battery is not keyword-free")


def export(out: str | Path, report: dict[str, Any], results: dict[str, Any] | None = None,
           force: bool = False, repo_id: str = DEFAULT_REPO_ID,
           frame: pd.DataFrame | None = None) -> Path:
    """Write the Hub folder to ``out``; ``report`` is a strict-mode defence report.

    ``repo_id`` is the Hub repository the folder will be pushed to: the card, its loading
    examples and CITATION.cff name it, and ``push`` refuses a folder made for another.
    """
    check_repo_id(repo_id)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ExportError(f"{out}: exists and is not empty; use --force to replace it")
    frame = battery_frame(norms=True) if frame is None else with_norms(frame)
    findings = validate_frame(frame, strict=True)
    if findings:
        raise ExportError(f"the battery fails strict validation ({len(findings)} finding(s), "
                          f"first: {findings[0]}); fix it before exporting")
    check_report(frame, report)
    files = build_files(frame, report, results, repo_id)
    with atomic_dir(out) as tmp:
        for rel, data in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (tmp / MANIFEST).write_text(manifest(tmp), encoding="utf-8")
    return out


def read_export(folder: str | Path) -> pd.DataFrame:
    """The items of an export folder as one frame (emotion decoded to its name)."""
    folder = Path(folder)
    if not (folder / "README.md").is_file() or not (folder / "data").is_dir():
        raise ExportError(f"{folder}: not an affect-battery export (needs README.md and data/)")
    parts = []
    for split in SPLITS:
        path = folder / parquet_name(split)
        if not path.is_file():
            raise ExportError(f"{folder}: missing {parquet_name(split)}")
        parts.append(pq.read_table(path).to_pandas())
    frame = pd.concat(parts, ignore_index=True)
    if "id" not in frame or "text" not in frame:
        raise ExportError(f"{folder}: parquet files lack id/text columns")
    frame["emotion"] = frame["emotion"].map(lambda i: LABELS[int(i)])
    return to_typed_frame(frame)


def verify_export(folder: str | Path) -> list[str]:
    """Problems with an export: manifest mismatches, and a card that differs from a re-render."""
    folder = Path(folder)
    problems = []
    man = folder / MANIFEST
    if not man.is_file():
        return [f"{MANIFEST} missing"]
    listed = {}
    for line in man.read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        listed[rel] = digest
    for rel, digest in listed.items():
        p = folder / rel
        if not p.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
        elif hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            problems.append(f"{rel}: content differs from the manifest")
    actual = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
              if p.is_file() and p.name != MANIFEST}
    problems += [f"{rel}: not in the manifest" for rel in sorted(actual - set(listed))]
    frame = read_export(folder)
    report = json.loads((folder / REPORT_NAME).read_text(encoding="utf-8"))
    results_path = folder / RESULTS_NAME
    results = (json.loads(results_path.read_text(encoding="utf-8"))
               if results_path.is_file() else None)
    if report.get("battery_sha256") != battery_digest(frame):
        problems.append(f"{REPORT_NAME}: computed on different data than the parquet files")
    card = (folder / "README.md").read_text(encoding="utf-8")
    release = read_release(card)
    if release is None:
        return [*problems, "README.md: no affect_battery release metadata (repo_id) in the "
                "front matter; re-export it"]
    ratings_path = folder / parquet_name(NORMS_SPLIT, NORMS_CONFIG)
    ratings = pq.read_table(ratings_path).to_pandas() if ratings_path.is_file() else None
    if card != render_card(frame, report, results, release.repo_id, ratings):
        problems.append("README.md: differs from the card rendered from the data and "
                        f"{REPORT_NAME} (hand edit or stale numbers)")
    citation = folder / CITATION
    if (citation.is_file()
            and citation.read_text(encoding="utf-8") != citation_cff(release.repo_id)):
        problems.append(f"{CITATION}: differs from the citation of {release.repo_id}")
    return problems
