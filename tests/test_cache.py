"""The derived-data cache (``_util.cache``) returns what a fresh computation returns, notices
any change to the files it was built from, and is never used through a link or when off."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from affect_battery._util import cache
from affect_battery.core.battery import read_battery_with_findings

from .conftest import make_battery, write_battery


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFECT_BATTERY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("AFFECT_BATTERY_NO_CACHE", raising=False)
    return tmp_path / "cache" / "derived"


def test_cached_battery_equals_a_fresh_read(own_cache, monkeypatch):
    first, _ = read_battery_with_findings(None)      # computed, then stored
    assert len(list(own_cache.glob("*.arrow"))) == 1
    second, _ = read_battery_with_findings(None)     # read back from the cache
    monkeypatch.setenv("AFFECT_BATTERY_NO_CACHE", "1")
    fresh, _ = read_battery_with_findings(None)      # no cache at all
    pd.testing.assert_frame_equal(second, first)
    pd.testing.assert_frame_equal(second, fresh)


def test_an_edit_to_a_stimulus_file_is_seen(own_cache, tmp_path):
    root = write_battery(tmp_path / "data", make_battery(("anger",), range(1, 2)))
    before, _ = read_battery_with_findings(root / "stimuli")
    f = root / "stimuli" / "anger.jsonl"
    f.write_text(f.read_text(encoding="utf-8").replace("table", "chair", 1), encoding="utf-8")
    after, _ = read_battery_with_findings(root / "stimuli")
    assert len(list(own_cache.glob("*.arrow"))) == 2
    changed = before["text"] != after["text"]
    assert changed.sum() == 1


def test_a_damaged_entry_is_ignored(own_cache):
    first, _ = read_battery_with_findings(None)
    (entry,) = own_cache.glob("*.arrow")
    entry.write_bytes(b"not an Arrow file")
    again, _ = read_battery_with_findings(None)
    pd.testing.assert_frame_equal(again, first)


def test_off_and_linked_folders_are_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFECT_BATTERY_NO_CACHE", "1")
    assert cache.cache_dir() is None
    monkeypatch.delenv("AFFECT_BATTERY_NO_CACHE")
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "root").mkdir()
    link = tmp_path / "root" / "derived"
    os.symlink(real, link)
    monkeypatch.setenv("AFFECT_BATTERY_CACHE", str(tmp_path / "root"))
    assert cache.cache_dir() is None
    cache.store("k", ".txt", lambda p: p.write_text("x"))
    assert list(real.iterdir()) == []


def test_a_failing_writer_leaves_nothing(own_cache):
    def broken(path):
        path.write_text("half")
        raise RuntimeError("disk full")
    cache.store("k", ".txt", broken)  # never raises
    assert [p.name for p in own_cache.iterdir()] == []


# ---- the compiled lexicon ------------------------------------------------------------------

def _screen_all(lexicon, texts):
    return [lexicon.screen(t) for t in texts]


LEXICON_PROBES = [
    "She was furious when the bus left.", "He felt shaken after the call.",
    "They shook hands; the nervous system diagram was on the console.",
    "At her wits' end, she freaked out and raged at him.", "A laser beam hit the rock.",
    "Hope walked in. He beamed at her with relief.", "The horror film made them laugh.",
]


def test_cached_lexicon_screens_exactly_like_a_fresh_compile(own_cache, monkeypatch):
    from affect_battery.core.battery import battery_frame
    from affect_battery.validators import lexicon as lx

    texts = [*LEXICON_PROBES, *battery_frame()["text"]]
    lx.load_lexicon.cache_clear()
    compiled = lx.load_lexicon()                       # compiled, then stored
    (entry,) = own_cache.glob("*.lexicon.json")
    lx.load_lexicon.cache_clear()
    cached = lx.load_lexicon()                         # rebuilt from the JSON state
    assert cached is not compiled
    assert _screen_all(cached, texts) == _screen_all(compiled, texts)
    assert any(_screen_all(cached, LEXICON_PROBES))    # the probes do hit something
    assert (cached.surface_forms(), cached.review_forms(), cached.forms_by_category()) == (
        compiled.surface_forms(), compiled.review_forms(), compiled.forms_by_category())
    assert cached.source == compiled.source
    entry.write_text('{"state_version": 1, "slots": [[]]}', encoding="utf-8")  # damaged
    lx.load_lexicon.cache_clear()
    again = lx.load_lexicon()
    assert _screen_all(again, LEXICON_PROBES) == _screen_all(compiled, LEXICON_PROBES)
    lx.load_lexicon.cache_clear()


def test_an_edited_lexicon_is_recompiled(own_cache, tmp_path):
    from affect_battery.validators import lexicon as lx

    own = tmp_path / "own.yaml"
    own.write_text("anger:\n  adj: [furious]\n", encoding="utf-8")
    assert [h.term for h in lx.load_lexicon(str(own)).screen("a furious cat")] == ["furious"]
    own.write_text("anger:\n  adj: [livid]\n", encoding="utf-8")
    lx.load_lexicon.cache_clear()
    assert lx.load_lexicon(str(own)).screen("a furious cat") == []
    assert len(list(own_cache.glob("*.lexicon.json"))) == 2
    lx.load_lexicon.cache_clear()
