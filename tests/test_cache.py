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
    assert len(list(own_cache.glob("*.parquet"))) == 1
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
    assert len(list(own_cache.glob("*.parquet"))) == 2
    changed = before["text"] != after["text"]
    assert changed.sum() == 1


def test_a_damaged_entry_is_ignored(own_cache):
    first, _ = read_battery_with_findings(None)
    (entry,) = own_cache.glob("*.parquet")
    entry.write_bytes(b"not parquet")
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
