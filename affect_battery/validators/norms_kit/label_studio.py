"""Label Studio files for labs that already run their annotation there.

``norms study --format label-studio`` writes one labeling config (XML) and one task file per
list; ``norms ingest`` reads a Label Studio JSON export of those tasks. The server itself is not
needed by this package: the files follow Label Studio's documented import and export formats
(tasks as ``{"data": {...}}``; an export task carries ``annotations`` whose ``result`` holds one
``choices`` value per control and whose ``lead_time`` is the seconds spent).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ...core.norms import text_sha256
from .responses import Answer, Response, unusable
from .study import INTENSITY_NAMES, LABEL_KEYS, Study, StudyList

EMOTION_CONTROL = "emotion"
INTENSITY_CONTROL = "intensity"
INTENSITY_HOTKEYS = ("q", "w", "e", "r")


def labeling_config() -> str:
    """The labeling interface: the text, one emotion (hotkeys 1-9), one intensity (q w e r)."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="Read the text on its own. Which ONE emotion does "
                  "the main character most plausibly live through at the end?")
    ET.SubElement(view, "Text", name="text", value="$text")
    emo = ET.SubElement(view, "Choices", name=EMOTION_CONTROL, toName="text",
                        choice="single-radio", required="true", showInline="true")
    for key, label, gloss in LABEL_KEYS:
        ET.SubElement(emo, "Choice", value=label, hotkey=key, hint=gloss)
    ET.SubElement(view, "Header", value="How intense is it? (0 only with none)")
    inten = ET.SubElement(view, "Choices", name=INTENSITY_CONTROL, toName="text",
                          choice="single-radio", required="true", showInline="true")
    for i, name in enumerate(INTENSITY_NAMES):
        ET.SubElement(inten, "Choice", value=str(i), hotkey=INTENSITY_HOTKEYS[i],
                      hint=name)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def tasks(study: Study, sl: StudyList, texts: dict[str, str]) -> list[dict[str, Any]]:
    """Label Studio tasks of one list: the text to show, plus the code and hashes that tie an
    exported annotation back to the study (only ``text`` is shown by the config)."""
    rows = [(i.code, texts[i.item_id]) for i in sl.items] + [(c.code, c.text) for c in sl.checks]
    rows.sort()
    return [{"data": {"text": text, "code": code, "text_sha256": text_sha256(text),
                      "study": study.study_id, "list": sl.list_id,
                      "manifest_sha256": sl.manifest_sha256}} for code, text in rows]


def _annotator(ann: dict[str, Any]) -> str:
    who = ann.get("completed_by")
    if isinstance(who, dict):
        who = who.get("id", who.get("email"))
    if who is None or isinstance(who, (list, dict)):
        raise ValueError("annotation without completed_by")
    return str(who)


def _choice(result: list[dict[str, Any]], control: str) -> str | None:
    for r in result:
        if r.get("from_name") == control:
            choices = (r.get("value") or {}).get("choices") or []
            return str(choices[0]) if len(choices) == 1 else None
    return None


def read_export(path: Path, study: Study, data: Any) -> list[Response]:
    """One :class:`Response` per (list, annotator) of a Label Studio JSON export.

    Raises :class:`~affect_battery.errors.InputError` (one line) for a file that cannot be used.
    """
    if not isinstance(data, list) or not data:
        raise unusable(path, "not a Label Studio JSON export (a list of tasks)")
    grouped: dict[tuple[str, str], Response] = {}
    for n, task in enumerate(data, start=1):
        d = task.get("data") if isinstance(task, dict) else None
        if not isinstance(d, dict) or not {"text", "code", "list", "text_sha256"} <= d.keys():
            raise unusable(path, f"task {n} is not a task of a norms study")
        if d.get("study") != study.study_id:
            raise unusable(path, f"task {n} belongs to study {d.get('study')!r}, not "
                                 f"{study.study_id!r}")
        if text_sha256(str(d["text"])) != d["text_sha256"]:
            raise unusable(path, f"task {n} (code {d['code']}): text changed since the study "
                                 "was built (text hash differs)")
        for ann in task.get("annotations") or []:
            if ann.get("was_cancelled"):
                continue
            try:
                who = _annotator(ann)
            except ValueError as exc:
                raise unusable(path, f"task {n}: {exc}") from None
            result = ann.get("result") or []
            label = _choice(result, EMOTION_CONTROL)
            inten = _choice(result, INTENSITY_CONTROL)
            key = (str(d["list"]), who)
            resp = grouped.setdefault(key, Response(
                source=str(path), participant=f"ls-{who}", list_id=str(d["list"]),
                manifest_sha256=str(d.get("manifest_sha256", "")),
                instruction_version=study.instruction_version, answers=[]))
            try:
                intensity = int(inten) if inten is not None else -1
            except ValueError:
                intensity = -1
            lead = ann.get("lead_time")
            rt = int(float(lead) * 1000) if isinstance(lead, (int, float)) else None
            resp.answers.append(Answer(len(resp.answers) + 1, str(d["code"]),
                                       str(d["text_sha256"]), label or "", intensity, rt))
    if not grouped:
        raise unusable(path, "the export holds no annotations")
    return list(grouped.values())


def write_files(folder: Path, study: Study, texts: dict[str, str]) -> list[Path]:
    """``label-studio/config.xml`` and ``label-studio/tasks-<list>.json`` under ``folder``."""
    base = folder / "label-studio"
    base.mkdir(parents=True, exist_ok=True)
    written = [base / "config.xml"]
    written[0].write_text(labeling_config(), encoding="utf-8")
    for sl in study.lists:
        p = base / f"tasks-{sl.list_id}.json"
        p.write_text(json.dumps(tasks(study, sl, texts), indent=1, ensure_ascii=False) + "\n",
                     encoding="utf-8")
        written.append(p)
    return written
