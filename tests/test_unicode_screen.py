"""Unicode-safe screening: hidden emotion words are caught and hostile characters flagged.

Every variant below hides "furious" (or "terrified") from a plain lexicon lookup; each must be
caught by the gate through the real CLI, with offsets that point into the ORIGINAL text.
"""

from __future__ import annotations

import json
import unicodedata

import pytest

from affect_battery.cli import main
from affect_battery.validators.keyword_screen import screen_text
from affect_battery.validators.unicode_safety import normalise

from .conftest import scenario_items, write_jsonl

# (label, planted sentence, the word it hides, the unicode finding code it must also earn)
VARIANTS = [
    ("zero-width joiner", "She was fur\u200dious.", "furious", "unicode-invisible"),
    ("zero-width space", "She was fur\u200bious.", "furious", "unicode-invisible"),
    ("soft hyphen", "She was fur\u00adious.", "furious", "unicode-invisible"),
    ("word joiner", "She was fur\u2060ious.", "furious", "unicode-invisible"),
    ("right-to-left mark", "She was fur\u200fious.", "furious", "unicode-bidi"),
    ("control character", "She was fur\u0007ious.", "furious", "unicode-control"),
    ("cyrillic look-alike", "She was fur\u0456ous.", "furious", "unicode-mixed-script"),
    ("greek look-alike", "She was furi\u03bfus.", "furious", "unicode-mixed-script"),
    ("fullwidth letters", "She was \uff46\uff55\uff52\uff49\uff4f\uff55\uff53.", "furious",
     None),
    ("ligature", "She was terri\ufb01ed.", "terrified", None),
    ("zero-width non-joiner", "She was fur\u200cious.", "furious", "unicode-invisible"),
    ("right-to-left override", "She was fur\u202eious.", "furious", "unicode-bidi"),
    ("byte-order mark", "She was fur\ufeffious.", "furious", "unicode-invisible"),
    ("all-cyrillic look-alike word", "She was \u0455\u0430d.", "sad", "unicode-mixed-script"),
]
IDS = [v[0] for v in VARIANTS]


@pytest.fixture
def battery_env(mini_battery, monkeypatch):
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(mini_battery))
    return mini_battery


def _gate_json(path, capsys) -> tuple[int, dict]:
    code = main(["gate", str(path), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def _planted(sentence: str) -> tuple[list[dict], str]:
    items = [dict(i) for i in scenario_items("anger", 5, 1, seed=42)]
    text = items[1]["text"].replace(" again at noon.", ".", 1) + " " + sentence
    items[1]["text"] = text
    return items, text


@pytest.mark.parametrize(("label", "sentence", "word", "code"), VARIANTS, ids=IDS)
def test_gate_catches_hidden_word(tmp_path, battery_env, capsys, label, sentence, word, code):
    items, text = _planted(sentence)
    f = write_jsonl(tmp_path / "new.jsonl", items)
    exit_code, report = _gate_json(f, capsys)
    assert exit_code == 1 and report["ok"] is False, label
    mine = [x for x in report["findings"] if x["item_id"] == "N-anger-d5-1"]
    kw = [x for x in mine if x["code"] == "keyword"]
    assert len(kw) == 1, (label, mine)
    d = kw[0]["details"]
    # offsets point into the original text, and name the original characters
    assert text[d["offset"]:d["end"]] == d["matched"]
    assert d["offset"] == text.index(sentence) + len("She was ")
    assert normalise(d["matched"]).text.lower() == word
    assert f"at offset {d['offset']}" in kw[0]["message"]
    if code is None:
        assert not [x for x in mine if x["code"].startswith("unicode-")], mine
        return
    flagged = [x for x in mine if x["code"] == code]
    assert len(flagged) == 1, (label, mine)
    found = flagged[0]
    assert found["severity"] == "error"
    if code == "unicode-mixed-script":
        chars = found["details"]["characters"]
        offsets = [c["offset"] for c in chars]
    else:
        chars = [found["details"]]
        offsets = found["details"]["offsets"]
    for c, at in zip(chars, offsets, strict=True):
        ch = text[at]
        assert c["codepoint"] == f"U+{ord(ch):04X}"
        assert f"U+{ord(ch):04X}" in found["message"] and f"offset {at}" in found["message"]
        if unicodedata.name(ch, ""):
            assert unicodedata.name(ch) in found["message"]


@pytest.mark.parametrize(("label", "sentence", "word", "code"), VARIANTS, ids=IDS)
def test_gate_text_output_names_code_point(tmp_path, battery_env, capsys, label, sentence,
                                           word, code):
    items, _ = _planted(sentence)
    f = write_jsonl(tmp_path / "new.jsonl", items)
    assert main(["gate", str(f)]) == 1
    out = capsys.readouterr().out
    assert "[keyword]" in out
    if code:
        line = next(ln for ln in out.splitlines() if f"[{code}]" in ln)
        assert line.startswith(f"{f}:2 N-anger-d5-1")
    # the report itself never prints the hostile characters raw
    for ch in out:
        assert ch in "\n" or unicodedata.category(ch) not in ("Cc", "Cf"), repr(ch)


@pytest.mark.parametrize(("label", "sentence", "word", "code"), VARIANTS, ids=IDS)
def test_screen_text_maps_offsets_to_original(label, sentence, word, code):
    hits = screen_text(sentence)
    assert len(hits) == 1, label
    h = hits[0]
    assert (h.start, sentence[h.start:h.end]) == (len("She was "), h.matched)
    assert h.end == len(sentence) - 1


@pytest.mark.parametrize(("label", "sentence", "word", "code"), VARIANTS, ids=IDS)
def test_screen_cli_catches_hidden_word(capsys, label, sentence, word, code):
    exit_code = main(["screen", "--format", "json", sentence])
    hits = json.loads(capsys.readouterr().out)
    assert exit_code == 1 and len(hits) == 1
    assert sentence[hits[0]["start"]:hits[0]["end"]] == hits[0]["matched"]


CLEAN = [("Kaveh", "Zoë"), ("the meadow", "the naïve café’s meadow"),
         ("again at noon.", "again at noon — “as ever”.")]


def test_legitimate_non_ascii_is_clean(tmp_path, battery_env, capsys):
    items = [dict(i) for i in scenario_items("anger", 5, 1, seed=42)]
    for item in items:
        for old, new in CLEAN:
            item["text"] = item["text"].replace(old, new)
        assert "Zoë" in item["text"] and "café" in item["text"] and "—" in item["text"]
    items[0]["text"] = items[0]["text"].replace("café", "cafe\u0301", 1)  # decomposed accent
    f = write_jsonl(tmp_path / "new.jsonl", items)
    exit_code, report = _gate_json(f, capsys)
    assert exit_code == 0, report["findings"]
    assert not [x for x in report["findings"] if x["code"].startswith("unicode-")]
    for item in items[:2]:  # the keyword-rich twin (items[2]) carries its terms on purpose
        assert screen_text(item["text"]) == []


def test_keyword_rich_twin_still_counts_hidden_terms():
    text = "He was fur\u200dious and full of r\u0430ge."
    hits = screen_text(text)
    assert [text[h.start:h.end] for h in hits] == [h.matched for h in hits]
    assert [normalise(h.matched).text for h in hits] == ["furious", "rage"]
