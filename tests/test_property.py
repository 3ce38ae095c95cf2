"""Arbitrary unicode never crashes the screen or the gate."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affect_battery.cli import main
from affect_battery.validators.lexicon import load_lexicon

LEX = load_lexicon()


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_screen_never_crashes_and_offsets_are_exact(text):
    for hit in LEX.screen(text):
        assert 0 <= hit.start < hit.end <= len(text)
        assert text[hit.start:hit.end] == hit.matched


@given(texts=st.lists(st.text(min_size=1), min_size=1, max_size=4),
       ids=st.lists(st.text(max_size=20), min_size=1, max_size=4))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_gate_never_crashes(tmp_path, mini_battery, monkeypatch, texts, ids):
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(mini_battery))
    path = tmp_path / "fuzz.jsonl"
    with path.open("w", encoding="utf-8", errors="surrogatepass") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"id": ids[i % len(ids)], "text": text}) + "\n")
    assert main(["gate", str(path), "--format", "json"]) in (0, 1, 2)
