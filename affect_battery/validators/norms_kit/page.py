"""One list as a self-contained static HTML page: no server, no network, nothing external.

Everything the participant needs (consent, instructions, practice, the texts, the keyboard
handling, the download) is inline in one file, so a lab can hand it out on a USB stick, open it
offline, or put it on any static web host. The page shows texts under no id or label; their
per-participant order is shuffled in the page from the participant code.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources

from ...core.norms import text_sha256
from .study import FORMAT, INTENSITY_NAMES, LABEL_KEYS, PRACTICE, Study, StudyList


def template(name: str) -> str:
    """A file shipped in ``norms_kit/templates`` (the page, consent and instruction texts)."""
    return (resources.files(__package__).joinpath("templates").joinpath(name)
            .read_text(encoding="utf-8"))


_NUMBERED = re.compile(r"^\d+\.\s+")


def markdown_html(text: str) -> str:
    """The small Markdown subset the consent and instruction templates use: ``#`` headings,
    ``-`` list items, numbered paragraphs and plain paragraphs; everything else is escaped text.

    Written here rather than taken from a Markdown library so that an edited template can never
    pull raw HTML, links or images into the page (the page must stay offline and self-contained).

    >>> markdown_html("# Hi\\n\\nA <b>\\n- one\\n- two")
    '<h2>Hi</h2>\\n<p>A &lt;b&gt;</p>\\n<ul><li>one</li><li>two</li></ul>'
    """
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if para:
            out.append(f"<p>{html.escape(' '.join(para), quote=False)}</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{html.escape(i, quote=False)}</li>"
                                        for i in items) + "</ul>")
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("#"):
            flush()
            out.append(f"<h2>{html.escape(line.lstrip('#').strip(), quote=False)}</h2>")
        elif line.startswith("- "):
            if para:
                flush()
            items.append(line[2:].strip())
        elif _NUMBERED.match(line):
            flush()
            para.append(line)
        elif items and raw.startswith("  "):
            items[-1] += " " + line
        else:
            if items:
                flush()
            para.append(line)
    flush()
    return "\n".join(out)


def _script_json(value: object) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` can form)."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def page_data(study: Study, sl: StudyList, texts: dict[str, str]) -> dict[str, object]:
    """What the page's script gets: codes, texts and hashes, never item ids or splits."""
    items = [{"code": i.code, "text": texts[i.item_id], "sha256": i.text_sha256}
             for i in sl.items]
    items += [{"code": c.code, "text": c.text, "sha256": text_sha256(c.text)} for c in sl.checks]
    items.sort(key=lambda d: d["code"])  # page order says nothing; the page shuffles anyway
    return {"format": FORMAT, "study": study.study_id, "list": sl.list_id,
            "manifest_sha256": sl.manifest_sha256,
            "instruction_version": study.instruction_version,
            "labels": [list(k) for k in LABEL_KEYS],
            "intensities": [[i, n] for i, n in enumerate(INTENSITY_NAMES)],
            "practice": [{"code": f"P{k}", "text": t} for k, t in enumerate(PRACTICE, 1)],
            "items": items}


def render_page(study: Study, sl: StudyList, texts: dict[str, str], *, consent: str,
                instructions: str) -> str:
    """The HTML page of one list (consent and instructions as Markdown-subset text)."""
    page = template("page.html")
    for marker, value in (("@@CONSENT@@", markdown_html(consent)),
                          ("@@INSTRUCTIONS@@", markdown_html(instructions)),
                          ("@@LIST@@", html.escape(sl.list_id)),
                          ("@@DATA@@", _script_json(page_data(study, sl, texts)))):
        page = page.replace(marker, value)
    return page
