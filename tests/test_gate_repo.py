"""The gate in another repository: ``--root``, AFFECT_BATTERY_DATA, the GitHub workflow example
and the pre-commit hook, each run for real against a scratch repository."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from affect_battery._version import __version__
from affect_battery.cli import main
from affect_battery.core.paths import package_data_dir
from affect_battery.validators.gate import run_gate

from .conftest import make_battery, perturb, scenario_items, write_battery, write_jsonl

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "examples" / "github-workflow.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
EXE = Path(sys.executable).with_name("affect-battery")


@pytest.fixture(autouse=True)
def _no_data_override(monkeypatch):
    monkeypatch.delenv("AFFECT_BATTERY_DATA", raising=False)


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def gate_json(args, capsys):
    code, out, err = run([*args, "--format", "json"], capsys)
    return code, (json.loads(out) if out else None), err


def codes(report) -> set[str]:
    return {f["code"] for f in report["findings"]}


@pytest.fixture
def fork(tmp_path) -> Path:
    """A repository with its own small battery under data/stimuli (anger and fear, d1-2)."""
    write_battery(tmp_path / "fork" / "data", make_battery(("anger", "fear"), range(1, 3)))
    return tmp_path / "fork"


def edit_first_clinical(path: Path, seed: int = 5) -> None:
    """Change one clinical text in place (same length and sentences: still a matched pair)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["text"] = perturb(rows[0]["text"], random.Random(seed), swaps=2)
    write_jsonl(path, rows)


# ---- --root and the base ---------------------------------------------------------------------

def test_fork_copy_of_a_shipped_file_is_not_66_collisions(tmp_path, capsys):
    copy = tmp_path / "fork" / "data" / "stimuli" / "anger.jsonl"
    copy.parent.mkdir(parents=True)
    shutil.copy(package_data_dir() / "stimuli" / "anger.jsonl", copy)
    code, report, _ = gate_json(["gate", copy], capsys)
    assert code == 0, report["findings"][:3]
    assert report["n_items"] == 66 and "id-collision" not in codes(report)
    assert Path(report["base"]).resolve() == (package_data_dir() / "stimuli").resolve()


def test_edited_file_of_the_root_replaces_its_version(fork, capsys):
    anger = fork / "data" / "stimuli" / "anger.jsonl"
    edit_first_clinical(anger)
    # against the shipped battery the same ids carry other texts: collisions
    code, report, _ = gate_json(["gate", anger], capsys)
    assert code == 1 and "id-collision" in codes(report)
    # against the fork's own stimuli the file replaces itself: clean
    code, report, _ = gate_json(["gate", "--root", fork, anger], capsys)
    assert code == 0, report["findings"][:3]
    assert Path(report["base"]).resolve() == anger.parent.resolve()


@pytest.mark.parametrize("given", ["repo", "data", "stimuli"])
def test_root_may_name_the_repository_the_data_folder_or_the_stimuli(fork, capsys, given):
    root = {"repo": fork, "data": fork / "data", "stimuli": fork / "data" / "stimuli"}[given]
    new = write_jsonl(fork / "new.jsonl", scenario_items("anger", 1, 1, seed=999))
    code, report, _ = gate_json(["gate", "--root", root, new], capsys)
    # C-anger-d1-1 is the fork's item with another text: a collision with the fork's file
    assert code == 1
    clash = [f for f in report["findings"] if f["code"] == "id-collision"]
    assert clash and all("data/stimuli/anger.jsonl" in f["message"] for f in clash)
    assert Path(report["base"]).resolve() == (fork / "data" / "stimuli").resolve()


def test_root_replaces_the_shipped_battery(fork, tmp_path, capsys):
    # joy is in the shipped battery but not in the fork: a collision only against the battery
    new = write_jsonl(tmp_path / "joy.jsonl", scenario_items("joy", 1, 1, seed=31))
    code, report, _ = gate_json(["gate", new], capsys)
    assert code == 1 and "id-collision" in codes(report)
    code, report, _ = gate_json(["gate", "--root", fork, new], capsys)
    assert code == 0, report["findings"][:3]


def test_root_precedes_affect_battery_data(fork, tmp_path, monkeypatch, capsys):
    other = write_battery(tmp_path / "other", make_battery(("joy",), range(1, 2)))
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(other))
    new = write_jsonl(tmp_path / "joy.jsonl", scenario_items("joy", 1, 1, seed=31))
    code, report, _ = gate_json(["gate", new], capsys)  # the variable's battery has joy d1-1
    assert code == 1 and "id-collision" in codes(report)
    assert Path(report["base"]).resolve() == (other / "stimuli").resolve()
    code, report, _ = gate_json(["gate", "--root", fork, new], capsys)  # --root wins
    assert code == 0 and Path(report["base"]).resolve() == (fork / "data/stimuli").resolve()


def test_pairs_resolve_across_files_of_the_set(fork, capsys):
    items = scenario_items("anger", 5, 1, seed=42)  # C, N and K of one scenario
    stimuli = fork / "data" / "stimuli"
    clinical = write_jsonl(stimuli / "batch" / "clinical.jsonl",
                           [i for i in items if not i["id"].startswith("N-")])
    neutral = write_jsonl(stimuli / "batch" / "neutral.jsonl",
                          [i for i in items if i["id"].startswith("N-")])
    # only one file changed, the partner in the root's other (nested) file: no dangling link
    code, report, _ = gate_json(["gate", "--root", fork, clinical], capsys)
    assert code == 0, report["findings"][:3]
    # on its own the pair is broken ...
    code, report, _ = gate_json(["gate", "--no-battery", clinical], capsys)
    assert code == 1 and "dangling-link" in codes(report)
    # ... and whole again when both halves are given
    code, report, _ = gate_json(["gate", "--no-battery", clinical, neutral], capsys)
    assert code == 0, report["findings"][:3]


def test_same_id_other_text_still_collides_wherever_it_lives(fork, tmp_path, capsys):
    rows = [json.loads(x) for x in
            (fork / "data/stimuli/fear.jsonl").read_text(encoding="utf-8").splitlines()][:2]
    copy = write_jsonl(tmp_path / "elsewhere" / "fear_copy.jsonl", rows)
    code, report, _ = gate_json(["gate", "--root", fork, copy], capsys)
    assert code == 0, report["findings"][:3]  # identical items: the same items
    edit_first_clinical(copy, seed=11)
    code, report, _ = gate_json(["gate", "--root", fork, copy], capsys)
    clash = [f for f in report["findings"] if f["code"] == "id-collision"]
    assert code == 1 and [f["item_id"] for f in clash] == [rows[0]["id"]]


def test_root_reads_only_visible_stimulus_files(fork, capsys):
    stimuli = fork / "data" / "stimuli"
    (stimuli / "README.md").write_text("# notes\n", encoding="utf-8")
    (stimuli / ".cache").mkdir()
    (stimuli / ".cache" / "broken.jsonl").write_text("{oops\n", encoding="utf-8")
    (stimuli / ".hidden.csv").write_text("model,score\n", encoding="utf-8")
    anger = stimuli / "anger.jsonl"
    code, report, _ = gate_json(["gate", "--root", fork, anger], capsys)
    assert code == 0, report["findings"][:3]
    (stimuli / "results.csv").write_text("model,score\nx,1\n", encoding="utf-8")
    code, _, err = run(["gate", "--root", fork, anger], capsys)  # a broken root file: exit 2
    assert code == 2 and len(err.strip().splitlines()) == 1 and "results.csv" in err


def test_bad_root_is_one_line_exit_two(fork, tmp_path, capsys):
    anger = fork / "data" / "stimuli" / "anger.jsonl"
    for root, says in ((tmp_path / "missing", "no such folder"), (anger, "not a folder")):
        code, out, err = run(["gate", "--root", root, anger], capsys)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert err.startswith("affect-battery gate: error: --root") and says in err
    with pytest.raises(SystemExit) as exc:
        main(["gate", "--root", str(fork), "--no-battery", str(anger)])
    assert exc.value.code == 2 and "not allowed with argument --root" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder whatever its mode")
def test_unreadable_root_is_one_line_exit_two(fork, capsys):
    locked = fork / "data" / "stimuli" / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        code, _, err = run(["gate", "--root", fork, fork / "data/stimuli/anger.jsonl"], capsys)
    finally:
        locked.chmod(0o755)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot read folder" in err


def test_run_gate_api_root(fork):
    report = run_gate([fork / "data/stimuli/fear.jsonl"], root=fork)
    assert report.exit_code == 0 and report.extra["base"].endswith("stimuli")


def test_help_documents_root_and_the_environment(capsys):
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    out = capsys.readouterr().out
    assert "--root DIR" in out and "AFFECT_BATTERY_DATA" in out and "exit codes" in out


# ---- the Markdown summary ----------------------------------------------------------------------

def md_cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_summary_is_appended_and_escaped(fork, tmp_path, capsys):
    items = scenario_items("anger", 5, 1, seed=42)
    items[0]["text"] += " She was furious | and <b>loud</b>."
    new = write_jsonl(tmp_path / "new items.jsonl", items)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    code, out, _ = run(["gate", "--root", fork, new, "--summary", summary], capsys)
    assert code == 1
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### affect-battery gate: FAILED")
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert len(rows) == 1 + sum(1 for ln in out.splitlines() if ": error [" in ln)
    assert all(len(md_cells(r)) == 6 for r in rows)  # no value breaks the table
    assert "<b>" not in text and "new items.jsonl" in text


def test_summary_path_is_judged_before_any_work(fork, tmp_path, capsys):
    anger = fork / "data" / "stimuli" / "anger.jsonl"
    for bad in (tmp_path, anger):  # a folder; one of the inputs
        code, out, err = run(["gate", "--root", fork, anger, "--summary", bad], capsys)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    before = (fork / "data/stimuli/fear.jsonl").read_bytes()
    code, _, err = run(["gate", "--root", fork, anger, "--summary",
                        fork / "data/stimuli/fear.jsonl"], capsys)  # a root file
    assert code == 2 and "input file" in err
    code, _, err = run(["gate", "--root", fork, anger, "--output",
                        fork / "data/stimuli/fear.jsonl"], capsys)  # --output likewise
    assert code == 2 and "input file" in err
    assert (fork / "data/stimuli/fear.jsonl").read_bytes() == before


# ---- a scratch git repository ------------------------------------------------------------------

def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AFFECT_BATTERY_DATA"}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org", PRE_COMMIT_HOME=str(home / "pre-commit"),
               PATH=f"{EXE.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}")
    return env


def git(repo: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def scratch(tmp_path):
    """A git repository with a base commit: a small battery and a batch of new items."""
    if shutil.which("git") is None or not EXE.exists():
        pytest.skip("needs git and the installed affect-battery command")
    repo = tmp_path / "repo"
    write_battery(repo / "data", make_battery(("anger", "fear"), range(1, 3)))
    shutil.rmtree(repo / "data" / "lexicon")
    write_jsonl(repo / "data" / "stimuli" / "extra.jsonl", scenario_items("anger", 5, 1, 42))
    env = git_env(tmp_path)
    git(repo, env, "init", "-q", "-b", "main")
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-q", "-m", "base")
    return repo, env


# ---- examples/github-workflow.yml ----------------------------------------------------------

def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_workflow_is_locked_down_and_pinned():
    wf = workflow()
    trigger = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as true
    assert list(trigger) == ["pull_request"]
    globs = [g for g in wf["env"]["STIMULUS_GLOBS"].splitlines() if g]
    assert trigger["pull_request"]["paths"] == globs
    assert all(g.startswith(wf["env"]["STIMULUS_ROOT"] + "/") for g in globs)
    assert wf["permissions"] == {"contents": "read"}
    runs = [s["run"] for s in wf["jobs"]["gate"]["steps"] if "run" in s]
    pins = [m for r in runs for m in re.findall(r'pip install "affect-battery==([^"]+)"', r)]
    assert pins == [__version__]
    assert not any("${{" in r for r in runs)  # expressions reach scripts through env only


def run_workflow(repo: Path, env: dict[str, str], base_sha: str, summary: Path
                 ) -> subprocess.CompletedProcess:
    """Every `run:` step of the gate job as GitHub runs it (bash -eo pipefail, the workflow's
    and the step's env), the install step left out: the package under test is installed."""
    wf = workflow()
    proc = None
    for i, step in enumerate(wf["jobs"]["gate"]["steps"]):
        if "run" not in step or "pip install" in step["run"]:
            continue
        step_env = {**env, **wf["env"], "GITHUB_STEP_SUMMARY": str(summary)}
        for key, value in step.get("env", {}).items():
            assert value == "${{ github.event.pull_request.base.sha }}"
            step_env[key] = base_sha
        script = repo.parent / f"step{i}.sh"
        script.write_text(step["run"], encoding="utf-8")
        assert wf["defaults"]["run"]["shell"] == "bash"
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=repo, env=step_env, capture_output=True, text=True,
                              timeout=300)
        if proc.returncode:
            break
    assert proc is not None
    return proc


def gated_files(summary: Path) -> set[str]:
    lines = summary.read_text(encoding="utf-8").split("Files gated:\n\n", 1)[1].splitlines()
    items = [ln[2:] for ln in lines if ln.startswith("- ")]
    return {re.sub(r"\\(.)", r"\1", x) for x in items}


def test_workflow_gates_only_changed_stimulus_files(scratch, tmp_path):
    repo, env = scratch
    base = git(repo, env, "rev-parse", "HEAD")
    stimuli = repo / "data" / "stimuli"
    # a rename into a folder with a space, an edited file, and files outside the globs
    (stimuli / "new batch").mkdir()
    git(repo, env, "mv", "data/stimuli/extra.jsonl", "data/stimuli/new batch/extra items.jsonl")
    edit_first_clinical(stimuli / "fear.jsonl")
    (repo / "results").mkdir()
    (repo / "results" / "run 1.csv").write_text("model,score\ntiny,0.5\n", encoding="utf-8")
    (stimuli / "notes.md").write_text("# notes\n", encoding="utf-8")
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-q", "-m", "change")

    summary = tmp_path / "summary.md"
    proc = run_workflow(repo, env, base, summary)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert gated_files(summary) == {"data/stimuli/fear.jsonl",
                                    "data/stimuli/new batch/extra items.jsonl"}
    assert "### affect-battery gate: OK" in summary.read_text(encoding="utf-8")
    assert (repo / "gate-report.txt").is_file()

    # a planted emotion word in the renamed file: exit 1 and an annotation on its line
    renamed = stimuli / "new batch" / "extra items.jsonl"
    rows = [json.loads(x) for x in renamed.read_text(encoding="utf-8").splitlines()]
    rows[1]["text"] = rows[1]["text"].replace(" again at noon.", ". She was furious.", 1)
    write_jsonl(renamed, rows)
    git(repo, env, "commit", "-q", "-am", "keyword")
    summary.unlink()
    proc = run_workflow(repo, env, base, summary)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("::error file=data/stimuli/new batch/extra items.jsonl,line=2,"
            "title=affect-battery keyword::N-anger-d5-1") in proc.stdout
    assert "FAILED" in summary.read_text(encoding="utf-8")

    # nothing changed under the globs: exit 0 without running the gate
    summary.unlink()
    head = git(repo, env, "rev-parse", "HEAD")
    proc = run_workflow(repo, env, head, summary)
    assert proc.returncode == 0 and "no stimulus files changed" in proc.stdout


def test_workflow_unusable_input_is_exit_two_with_a_summary(scratch, tmp_path):
    repo, env = scratch
    base = git(repo, env, "rev-parse", "HEAD")
    (repo / "data" / "stimuli" / "broken.jsonl").write_text('{"id": oops}\n', encoding="utf-8")
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-q", "-m", "broken")
    summary = tmp_path / "summary.md"
    proc = run_workflow(repo, env, base, summary)
    assert proc.returncode == 2
    assert "::error title=affect-battery gate::" in proc.stdout and "broken.jsonl" in proc.stdout
    assert "unusable input" in summary.read_text(encoding="utf-8")


def test_workflow_fails_when_the_base_commit_is_unknown(scratch, tmp_path):
    repo, env = scratch
    proc = run_workflow(repo, env, "0" * 40, tmp_path / "summary.md")
    assert proc.returncode != 0 and "no stimulus files changed" not in proc.stdout


# ---- .pre-commit-hooks.yaml ------------------------------------------------------------------

def manifest_hook() -> dict:
    clientlib = pytest.importorskip("pre_commit.clientlib")
    hooks = clientlib.load_manifest(str(HOOKS))  # pre-commit's own schema check
    assert [h["id"] for h in hooks] == ["affect-battery-gate"]
    return hooks[0]


def test_pre_commit_manifest_fields():
    hook = manifest_hook()
    assert hook["entry"] == "affect-battery gate" and hook["language"] == "python"
    assert hook["pass_filenames"] is True and hook["require_serial"] is True
    assert hook["args"][:2] == ["--root", "."]
    files = re.compile(hook["files"])
    for path in ("data/stimuli/anger.jsonl", "data/stimuli/new batch/x.csv",
                 "stimuli/y.parquet"):
        assert files.search(path), path
    for path in ("results/run.csv", "data/stimuli/notes.md", "docs/stimuli/x.jsonl",
                 "data/norms/ratings.jsonl"):
        assert not files.search(path), path


def test_pre_commit_runs_the_hook_offline(scratch, tmp_path):
    """pre-commit itself runs the shipped hook's files/args/pass_filenames on staged files. The
    hook's `language: python` would pip-install this repository (network), so the local config
    uses `language: system` with the installed command; everything else is the manifest's."""
    hook = manifest_hook()
    repo, env = scratch
    local = {k: hook[k] for k in ("id", "name", "files", "args", "pass_filenames",
                                  "require_serial")}
    local.update(entry=f"{EXE} gate", language="system")
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    git(repo, env, "add", ".pre-commit-config.yaml")
    git(repo, env, "commit", "-q", "-m", "pre-commit")

    def pre_commit() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--color", "never"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=300)

    # an edited battery file gated against the repository's own stimuli: it replaces itself
    edit_first_clinical(repo / "data" / "stimuli" / "anger.jsonl")
    git(repo, env, "add", "-A")
    proc = pre_commit()
    assert proc.returncode == 0 and "Passed" in proc.stdout, proc.stdout + proc.stderr
    git(repo, env, "commit", "-q", "-m", "edit")

    # a keyword planted in a neutral control: the hook fails and names the rule
    anger = repo / "data" / "stimuli" / "anger.jsonl"
    rows = [json.loads(x) for x in anger.read_text(encoding="utf-8").splitlines()]
    rows[1]["text"] = rows[1]["text"].replace(" again at noon.", ". She was furious.", 1)
    write_jsonl(anger, rows)
    git(repo, env, "add", "-A")
    proc = pre_commit()
    assert proc.returncode == 1 and "[keyword]" in proc.stdout, proc.stdout + proc.stderr
    git(repo, env, "reset", "-q", "--hard")

    # a results CSV is not a stimulus file: the hook does not run on it
    (repo / "results.csv").write_text("model,score\ntiny,0.5\n", encoding="utf-8")
    git(repo, env, "add", "-A")
    proc = pre_commit()
    assert proc.returncode == 0 and "no files to check" in proc.stdout, proc.stdout
