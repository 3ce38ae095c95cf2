"""JSON Lines files the package ships (ratings, the classifier corpus): one parsed object per line.

Split on "\\n" only (``str.splitlines`` would also split inside strings at U+2028 or U+0085), and
a malformed line is an :class:`InputError` naming file and line, never a traceback. Submitted
stimulus files go through the hardened reader of ``core.items`` instead (size limits, encodings).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError


def iter_jsonl(path: Path, text: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of ``path`` (or of ``text``, read from it).

    >>> list(iter_jsonl(Path("x.jsonl"), '{"a": 1}\\n\\n{"b": "\\u2028"}\\n'))
    [(1, {'a': 1}), (3, {'b': '\\u2028'})]
    """
    text = path.read_text(encoding="utf-8") if text is None else text
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError, ValueError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).split(";")[0]
            raise InputError(f"malformed JSON ({msg})", str(path), lineno) from None
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object", str(path), lineno)
        yield lineno, obj
