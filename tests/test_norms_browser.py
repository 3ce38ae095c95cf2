"""The norming page in a real browser: headless Chromium driven by keyboard only.

Builds a study with the CLI, opens one list page from disk (no server), checks the
accessibility basics (a label for every control, the focus order), answers every text by key
presses, downloads the responses, ingests them with the CLI and checks the recomputed human
norms beside the machine norms. A screenshot and the ingest report are kept under
``test-artifacts/`` (git-ignored) for the closing note of the human norming kit.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
``selenium`` (the dev extra). Without them this test FAILS rather than skipping silently, so a
CI that lost the browser cannot pass by not testing the page; set
``AFFECT_BATTERY_SKIP_BROWSER=1`` to skip it deliberately.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from affect_battery.cli import main
from affect_battery.core.battery import battery_frame, load_battery
from affect_battery.core.constants import EMOTIONS
from affect_battery.core.norms import intended_label, load_ratings
from affect_battery.core.paths import data_dir
from affect_battery.validators.norms_kit.study import read_study

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHECK = re.compile(r'answer "(\w+)" with intensity (\d)')


def _browser_or_fail() -> None:
    if os.environ.get("AFFECT_BATTERY_SKIP_BROWSER") == "1":
        pytest.skip("AFFECT_BATTERY_SKIP_BROWSER=1: browser test skipped on purpose")
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if missing:
        pytest.fail("browser test cannot run, missing: " + ", ".join(missing) + " (apt-get "
                    "install chromium chromium-driver; or set AFFECT_BATTERY_SKIP_BROWSER=1)")


def _driver(profile: Path, downloads: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1100,1150"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "download.directory_upgrade": True, "safebrowsing.enabled": False})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def _keys(driver, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(driver)
    for k in keys:
        chain.send_keys(k)
    chain.perform()


def _active_id(driver) -> str:
    return driver.execute_script("return document.activeElement && document.activeElement.id")


def _visible_screen(driver) -> str:
    return driver.execute_script(
        "return [...document.querySelectorAll('main > section')].find(s => !s.hidden).id")


def _unlabelled_controls(driver) -> list[str]:
    """Ids of visible-or-hidden form controls without a <label for> or aria-label."""
    return driver.execute_script("""
        const out = [];
        for (const el of document.querySelectorAll('input, textarea, select, progress')) {
          const lab = el.id && document.querySelector('label[for="' + el.id + '"]');
          if (!lab && !el.getAttribute('aria-label')) out.push(el.id || el.outerHTML);
        }
        for (const b of document.querySelectorAll('button')) {
          if (!b.textContent.trim()) out.push(b.id || b.outerHTML);
        }
        return out;""")


def test_page_by_keyboard_download_ingest(tmp_path, capsys):
    _browser_or_fail()
    from selenium.webdriver.common.keys import Keys

    study_dir = tmp_path / "study"
    assert main(["norms", "study", "--lists", "20", "--out", str(study_dir), "--seed", "3"]) == 0
    capsys.readouterr()
    study = read_study(study_dir)
    sl = study.lists[0]
    page = study_dir / f"list-{sl.list_id}.html"
    frame = battery_frame()
    by_text = {t: (i, s, e) for i, s, e, t in zip(frame["id"], frame["split"],
                                                  frame["source_emotion"], frame["text"],
                                                  strict=True)}
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    driver = _driver(tmp_path / "profile", downloads)
    try:
        driver.get(page.as_uri())
        assert _unlabelled_controls(driver) == []
        # Consent: focus starts on the checkbox; Space ticks it, Tab reaches Continue.
        assert _active_id(driver) == "consent-agree"
        _keys(driver, Keys.ENTER)  # not ticked yet: refused, with a message
        assert _visible_screen(driver) == "screen-consent"
        _keys(driver, Keys.SPACE, Keys.TAB)
        assert _active_id(driver) == "consent-next"
        _keys(driver, Keys.ENTER)
        assert _visible_screen(driver) == "screen-start"
        assert _active_id(driver) == "participant-code"
        _keys(driver, "P-017", Keys.ENTER)
        # Practice: focus order is emotion group -> intensity group -> Next.
        assert _visible_screen(driver) == "screen-item"
        assert _active_id(driver) == "label-joy"
        _keys(driver, Keys.TAB)
        assert _active_id(driver) == "intensity-0"
        _keys(driver, Keys.TAB)
        assert _active_id(driver) == "item-next"
        _keys(driver, Keys.ENTER)  # nothing chosen: refused
        assert "choose an emotion" in driver.find_element("id", "item-message").text
        _keys(driver, "9", Keys.ENTER)              # practice 1: none
        _keys(driver, "1", "2", Keys.ENTER)         # practice 2: joy, clear
        assert _visible_screen(driver) == "screen-break"
        assert _active_id(driver) == "break-next"

        expected: dict[str, tuple[str, int]] = {}
        shown: list[str] = []
        wrong_on_purpose = None
        t0 = time.perf_counter()
        _keys(driver, Keys.ENTER)
        while _visible_screen(driver) == "screen-item":
            title = driver.find_element("id", "item-title").text
            text = driver.find_element("id", "item-text").text
            shown.append(title)
            m = CHECK.search(text)
            if m:
                label, intensity = m.group(1), int(m.group(2))
            else:
                item_id, split, emotion = by_text[text]
                label = intended_label(split, emotion)
                intensity = 0 if label == "none" else 2
                if wrong_on_purpose is None and label == "none":
                    wrong_on_purpose, label, intensity = item_id, "fear", 1
                expected[item_id] = (label, intensity)
            keys = ["9"] if label == "none" else [str(EMOTIONS.index(label) + 1), str(intensity)]
            _keys(driver, *keys)
            if len(shown) == 3:
                driver.save_screenshot(str(tmp_path / "norms-page.png"))
            _keys(driver, Keys.ENTER)
        elapsed = time.perf_counter() - t0
        assert _visible_screen(driver) == "screen-done"
        n_items = len(sl.items) + len(sl.checks)
        assert shown[0] == f"Text 1 of {n_items}" and shown[-1] == f"Text {n_items} of {n_items}"
        assert _active_id(driver) == "download"
        _keys(driver, Keys.ENTER)
        deadline = time.time() + 15
        files: list[Path] = []
        while time.time() < deadline:
            files = [p for p in downloads.glob("*.json")]
            if files and not list(downloads.glob("*.crdownload")):
                break
            time.sleep(0.1)
        assert [f.name for f in files] == [f"responses-{sl.list_id}-P-017.json"]
    finally:
        driver.quit()

    shutil.copy(tmp_path / "norms-page.png", ARTIFACTS / "norms-page.png")
    response = json.loads(files[0].read_text())
    assert response["list"] == sl.list_id and response["participant"] == "P-017"
    assert response["list_manifest_sha256"] == sl.manifest_sha256
    assert response["instruction_version"] == "human-v1"
    assert [a["position"] for a in response["answers"]] == list(range(1, n_items + 1))
    assert {a["code"] for a in response["answers"]} == {i.code for i in sl.items} | {
        c.code for c in sl.checks}
    assert all(a["rt_ms"] >= 0 for a in response["answers"])
    # The order is the participant's own shuffle, not the page's (sorted by code) order.
    assert [a["code"] for a in response["answers"]] != sorted(a["code"] for a in
                                                              response["answers"])

    # Ingest into a copy of the battery's data: first with the default speed rule (a test
    # robot answers in milliseconds: excluded as implausibly fast), then with it off.
    data = tmp_path / "data"
    shutil.copytree(data_dir() / "stimuli", data / "stimuli")
    (data / "norms").mkdir()
    shutil.copy(data_dir() / "norms" / "ratings.jsonl", data / "norms" / "ratings.jsonl")
    store = data / "norms" / "ratings.jsonl"
    before = store.read_bytes()
    assert main(["norms", "ingest", str(files[0]), "--study", str(study_dir),
                 "--ratings", str(store)]) == 0
    out = capsys.readouterr().out
    assert "excluded  P-017" in out and "implausibly fast" in out
    assert store.read_bytes() == before
    assert main(["norms", "ingest", str(files[0]), "--study", str(study_dir),
                 "--ratings", str(store), "--min-median-ms", "0"]) == 0
    report = capsys.readouterr().out
    assert "kept      P-017" in report and f"stored {len(sl.items)} human ratings" in report
    assert store.read_bytes().startswith(before)  # appended, never rewritten
    (ARTIFACTS / "norms-ingest-report.txt").write_text(
        f"keyboard completion of list {sl.list_id} ({n_items} items): {elapsed:.2f} s\n\n"
        + report)
    # Ingesting the same file again is a duplicate participant: one line, exit 2.
    assert main(["norms", "ingest", str(files[0]), "--study", str(study_dir),
                 "--ratings", str(store), "--min-median-ms", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "duplicate participant" in err[0]

    human = load_ratings(store)
    human = human[human["rater_type"] == "human"]
    assert len(human) == len(sl.items) and human["reader"].nunique() == 1
    assert "P-017" not in human["reader"].iloc[0]  # participant codes are not stored
    battery = load_battery(data / "stimuli")
    rows = {r["id"]: r for split in battery.values() for r in split}
    shipped = {r["id"]: r for split in load_battery().values() for r in split}
    for item_id in expected:
        r = rows[item_id]
        assert r["human_norm_n"] == 1
        assert r["human_norm_agreement"] == (0.0 if item_id == wrong_on_purpose else 1.0)
        # Machine norms are untouched by the human ratings.
        assert r["norm_n"] == shipped[item_id]["norm_n"]
        assert r["norm_agreement"] == shipped[item_id]["norm_agreement"]
    assert wrong_on_purpose is not None and rows[wrong_on_purpose]["human_norm_intensity_mean"] \
        == pytest.approx(1.0)
    others = [r for i, r in rows.items() if i not in expected]
    assert all(r["human_norm_n"] == 0 and r["human_norm_agreement"] is None for r in others)
    assert elapsed < 60
