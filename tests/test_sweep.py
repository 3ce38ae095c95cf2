"""``affect-battery sweep``: the YAML file, the jobs, resuming, the executors, the comparison.

The sweeps run the real suite (probing only, a small subset) on tiny random Llama and GPT-2
models saved to folders, in-process and through submitit's local executor.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from affect_battery.analyses.config import AnalyzeConfig
from affect_battery.analyses.suite import run_suite
from affect_battery.analyses.sweep import (
    METRICS,
    SlurmOptions,
    SweepSpec,
    compare,
    job_name,
    plan,
    run_sweep,
    slug,
)
from affect_battery.cli import main
from affect_battery.errors import UsageError

from .tiny_models import WORDS

PNG = b"\x89PNG\r\n\x1a\n"
SHARED = {"methods": ["probing"], "splits": ["clinical", "neutral"], "max_items": 12,
          "n_permutations": 2, "use_cache": False}


def _tokenizer():
    """A word-level tokenizer that knows the answer labels (the causal suite scores them)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from affect_battery.analyses.prompts import ANSWER_LABELS

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", *WORDS, *ANSWER_LABELS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   model_max_length=1024)


def _save_tiny(folder: Path, arch: str) -> str:
    """A random 3-layer Llama or 2-layer GPT-2 (hidden 32) saved as a local model folder."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tok = _tokenizer()
    if arch == "llama":
        model = LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
            pad_token_id=0, bos_token_id=None, eos_token_id=None))
    else:
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=4,
                                           n_positions=1024, pad_token_id=0, bos_token_id=None,
                                           eos_token_id=None))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tiny-sweep-models")
    return {arch: _save_tiny(root / f"tiny-{arch}", arch) for arch in ("llama", "gpt2")}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One BLAS/OpenMP thread: on a small shared machine the probes' many tiny solver calls run
    several times slower oversubscribed (the sweep itself leaves threads alone)."""
    import sklearn.linear_model  # noqa: F401  # its BLAS loaded, so that the limit reaches it
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFFECT_BATTERY_CACHE", str(tmp_path_factory.getbasetemp() / "ab-cache"))


def _write(path: Path, spec: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


# ---- the YAML file ----------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "key"), [
    ({"modles": ["m"]}, "'modles' (did you mean 'models'?)"),
    ({"models": []}, "models: an empty list"),
    ({"models": ["m"], "seeds": []}, "seeds: an empty list"),
    ({"models": ["m"], "seeds": [0, "1"]}, "seeds[1]: must be an integer"),
    ({"models": ["m"], "presets": ["few_shot"]}, "presets[0]: unknown preset 'few_shot'"),
    ({"models": [{"model": "m", "dtpye": "float16"}]}, "models[0]: unknown key 'dtpye'"),
    ({"models": [{"model": "m", "dtype": "float8"}]}, "models[0] (m): dtype: unknown float8"),
    ({"models": ["m"], "analyze": {"max_items": "8"}}, "analyze.max_items: must be an integer"),
    ({"models": ["m"], "analyze": {"methods": ["probing", "probe"]}}, "methods: unknown probe"),
    ({"models": ["m"], "analyze": {"layers": []}}, "analyze.layers: an empty list"),
    ({"models": ["m"], "slurm": {"mem_gb": 0}}, "slurm.mem_gb: must be a number > 0"),
    ({"models": ["m"], "slurm": {"gpus": 1}}, "slurm: unknown key 'gpus'"),
    ({"models": ["m"], "executor": "ray"}, "executor: unknown 'ray'"),
    ({"models": ["m"], "metric": "accuracy"}, "metric: unknown 'accuracy'"),
    ({"models": ["./a/model", "./b/model"]}, "models[1]: its folder name 'model' is also"),
    (["m"], "must be a mapping"),
])
def test_sweep_file_mistakes_are_one_line_naming_file_and_key(tmp_path, capsys, spec, key):
    path = _write(tmp_path / "bad.yaml", spec)
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}: " in err and key in err, err
    assert not (tmp_path / "bad").exists()  # nothing written


def test_unreadable_sweep_files_are_one_line(tmp_path, capsys):
    (tmp_path / "broken.yaml").write_text("models: [a\n", encoding="utf-8")
    assert main(["sweep", str(tmp_path / "broken.yaml")]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.yaml")]) == 2
    assert "no such sweep file" in capsys.readouterr().err


def test_jobs_expand_models_seeds_presets_with_safe_deterministic_folders(tmp_path):
    spec = SweepSpec.from_dict({
        "models": ["meta-llama/Llama-3.2-1B", "./models/my model",
                   {"model": "smollm2-135m", "name": "smol", "dtype": "bfloat16",
                    "device": "auto", "batch_size": 4}],
        "seeds": [0, 3], "presets": ["two_shot", "raw"], "out": str(tmp_path / "sw"),
        "analyze": {"methods": "probing", "layers": [0, 2], "batch_size": 8}})
    jobs = spec.jobs()
    assert len(jobs) == 3 * 2 * 2
    assert [j.name for j in jobs[:4]] == [
        "meta-llama--Llama-3.2-1B__seed0__two_shot", "meta-llama--Llama-3.2-1B__seed0__raw",
        "meta-llama--Llama-3.2-1B__seed3__two_shot", "meta-llama--Llama-3.2-1B__seed3__raw"]
    assert jobs[4].name == "my-model__seed0__two_shot"
    assert [j.name for j in jobs] == [j.name for j in spec.jobs()]  # deterministic
    for job in jobs:
        assert job.folder == (tmp_path / "sw" / job.name).absolute()
        assert job.config.methods == ("probing",) and job.config.layers == (0, 2)
        assert (job.config.seed, job.config.preset) == (job.seed, job.preset)
    smol = [j for j in jobs if j.model == "smol"]
    assert {(j.config.dtype, j.config.device, j.config.batch_size) for j in smol} == {
        ("bfloat16", "auto", 4)}  # the model's options win over the shared ones
    assert jobs[0].config.batch_size == 8
    assert [j.name for j in spec.jobs(tmp_path / "elsewhere")] == [j.name for j in jobs]
    assert slug("org/Model v2:latest") == "org--Model-v2-latest"
    assert slug("~/models/x/") == "x" and slug("../..") == "model"
    assert job_name("a", 1, "raw") == "a__seed1__raw"


def test_the_example_sweep_file_is_valid():
    spec = SweepSpec.load(Path(__file__).parents[1] / "examples" / "sweep.yaml")
    assert len(spec.jobs()) == len(spec.models) * len(spec.seeds) * len(spec.presets) >= 2
    assert spec.metric in METRICS and spec.slurm.partition


def test_slurm_options_are_parameters_submitit_accepts(tmp_path):
    submitit = pytest.importorskip("submitit")
    opts = SweepSpec.from_dict({"models": ["m"], "slurm": {
        "partition": "gpu", "account": "lab", "gpus_per_node": 1, "cpus_per_task": 8,
        "mem_gb": 64, "timeout_min": 600, "array_parallelism": 4}}).slurm
    params = opts.parameters("slurm")
    assert params["slurm_partition"] == "gpu" and params["slurm_array_parallelism"] == 4
    assert params["timeout_min"] == 600 and params["mem_gb"] == 64
    # submitit's own validation of names and types: its AutoExecutor checks the slurm_
    # parameters against the Slurm executor's even when it runs locally (no cluster here)
    ex = submitit.AutoExecutor(folder=tmp_path / "logs", cluster="local")
    ex.update_parameters(**opts.parameters("slurm"))
    ex.update_parameters(**opts.parameters("local"))
    with pytest.raises(NameError):  # and the check is real
        ex.update_parameters(slurm_partitoin="gpu")
    assert "slurm_partition" not in opts.parameters("local")
    assert SlurmOptions().timeout_min >= 60  # not submitit's 5-minute default


# ---- a real sweep, in-process -----------------------------------------------------------------

@pytest.fixture(scope="module")
def local_sweep(tiny_models, tmp_path_factory):
    """Two tiny models x 2 seeds x 1 preset, plus a model folder that does not exist."""
    root = tmp_path_factory.mktemp("sweep")
    mp = pytest.MonkeyPatch()
    mp.setenv("AFFECT_BATTERY_CACHE", str(root / "cache"))
    spec = _write(root / "sweep.yaml", {
        "models": [tiny_models["llama"], tiny_models["gpt2"],
                   {"model": str(root / "no-such-model"), "name": "missing"}],
        "seeds": [0, 1], "presets": ["two_shot"], "out": str(root / "out"), "analyze": SHARED})
    try:
        code = main(["sweep", str(spec)])
    finally:
        mp.undo()
    return spec, root / "out", code


@pytest.mark.slow
def test_local_sweep_runs_every_job_records_the_failure_and_compares(local_sweep):
    _, out, code = local_sweep
    assert code == 1  # some jobs failed, the others ran
    manifest = json.loads((out / "manifest.json").read_text())["jobs"]
    assert len(manifest) == 6
    for name, entry in manifest.items():
        if name.startswith("missing__"):
            assert entry["status"] == "failed"
            assert entry["error"].startswith("ModelError") and "not found" in entry["error"]
            assert not (out / name).exists()
        else:
            assert entry["status"] == "done" and entry["error"] is None
            results = json.loads((out / name / "results.json").read_text())
            assert results["config"]["seed"] == entry["seed"]
            assert "binary" in results["probing"]
    table = pd.read_csv(out / "comparison.csv")
    # one row per model x seed x preset x layer: Llama has 3 layers, GPT-2 2, over 2 seeds
    assert len(table) == 2 * 3 + 2 * 2
    assert set(table["model"]) == {"tiny-llama", "tiny-gpt2"}
    assert table["relative_depth"].between(0, 1).all()
    depths = table.groupby("model")["relative_depth"].apply(lambda s: sorted(set(s)))
    assert depths["tiny-llama"] == [0.0, 0.5, 1.0] and depths["tiny-gpt2"] == [0.0, 1.0]
    assert {"auroc", "paired_margin", "pair_win_rate"} <= set(table.columns)
    assert table["auroc"].between(0, 1).all()
    assert table["paired_margin"].between(-1, 1).all()
    md = (out / "comparison.md").read_text()
    assert "paired_margin" in md and "Best layer per run" in md
    assert "missing__seed0__two_shot" in md  # named as not compared
    assert (out / "comparison.png").read_bytes().startswith(PNG)


@pytest.mark.slow
def test_comparison_best_layer_is_the_peak_of_each_run(local_sweep):
    spec, _, _ = local_sweep
    comp = compare(SweepSpec.load(spec), metric="auroc")
    assert comp.metric == "auroc" and len(comp.best) == 4
    for row in comp.best.itertuples():
        run = comp.table[comp.table["run"] == row.run]
        assert row.auroc == run["auroc"].max()
        assert row.layer == run.loc[run["auroc"] == run["auroc"].max(), "layer"].min()
    s = comp.summary.set_index("model")
    llama = comp.best[comp.best["model"] == "tiny-llama"]["auroc"]
    assert math.isclose(s.loc["tiny-llama", "mean"], llama.mean())
    assert s.loc["tiny-llama", "min"] <= s.loc["tiny-llama", "mean"] <= s.loc["tiny-llama", "max"]
    assert (s["n_seeds"] == 2).all()


@pytest.mark.slow
def test_rerun_skips_finished_jobs_and_failures_until_retried(local_sweep, capsys):
    spec, out, _ = local_sweep
    done = sorted(out.glob("*/results.json"))
    assert len(done) == 4
    before = {p: p.stat().st_mtime_ns for p in done}
    capsys.readouterr()
    assert main(["sweep", str(spec), "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert "0 would run, 6 skipped" in listing and "failed last time" in listing
    assert main(["sweep", str(spec)]) == 1  # nothing ran, but the failures stand
    assert "0 to run, 6 skipped" in capsys.readouterr().out
    assert main(["sweep", str(spec), "--retry-failed"]) == 1
    printed = capsys.readouterr().out
    assert "2 to run, 4 skipped" in printed and "missing__seed1__two_shot: FAILED" in printed
    assert {p: p.stat().st_mtime_ns for p in done} == before  # no finished job ran again
    edited = {**_yaml(spec), "analyze": {**SHARED, "n_permutations": 3}}
    plans = plan(SweepSpec.from_dict(edited, spec))
    assert {p.state for p in plans if not p.job.name.startswith("missing")} == {"stale"}
    assert all(p.run for p in plans if p.state == "stale")


def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


@pytest.mark.slow
def test_compare_only_rewrites_the_comparison_with_another_metric(local_sweep, capsys):
    spec, out, _ = local_sweep
    (out / "comparison.csv").unlink()
    assert main(["sweep", str(spec), "--compare-only", "--metric", "pair_win_rate"]) == 0
    assert "comparison (pair_win_rate)" in capsys.readouterr().out
    assert len(pd.read_csv(out / "comparison.csv")) == 10
    path = "probing.binary.auroc_by_layer"  # any by-layer block, by its path
    assert compare(SweepSpec.load(spec), metric=path).best[path].between(0, 1).all()
    assert main(["sweep", str(spec), "--compare-only", "--metric", "geometry.rsa"]) == 2
    assert "none of the runs" in capsys.readouterr().err
    assert set(METRICS) >= {"paired_margin", "auroc"}


# ---- submitit --------------------------------------------------------------------------------

@pytest.mark.slow
def test_submitit_local_executor_runs_a_job_end_to_end(tiny_models, tmp_path, capsys,
                                                        monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the job's subprocess, as _one_thread above
    spec = SweepSpec.from_dict({"models": [tiny_models["gpt2"]], "seeds": [2],
                                "out": str(tmp_path / "out"), "analyze": SHARED,
                                "slurm": {"timeout_min": 10}}, tmp_path / "s.yaml")
    outcome = run_sweep(spec, executor="submitit-local", echo=print)
    name = "tiny-gpt2__seed2__two_shot"
    assert outcome.failed == [] and outcome.outcomes[name]["status"] == "done"
    results = json.loads((tmp_path / "out" / name / "results.json").read_text())
    assert results["config"]["seed"] == 2 and results["model"]["n_layers"] == 2
    entry = json.loads((tmp_path / "out" / "manifest.json").read_text())["jobs"][name]
    assert entry["status"] == "done" and entry["job_id"]
    assert list((tmp_path / "out" / "logs" / "submitit").glob(f"{entry['job_id']}*"))
    assert "submitted tiny-gpt2__seed2__two_shot as job" in capsys.readouterr().out
    assert outcome.comparison is not None and len(outcome.comparison.table) == 2


def test_missing_submitit_or_slurm_is_one_line(tmp_path, monkeypatch, capsys):
    spec = _write(tmp_path / "s.yaml", {"models": [str(tmp_path / "m")],
                                        "out": str(tmp_path / "out")})
    with monkeypatch.context() as mp:
        mp.setitem(sys.modules, "submitit", None)  # as if the extra were not installed
        assert main(["sweep", str(spec), "--executor", "submitit-local"]) == 2
        assert "pip install 'affect-battery[sweep]'" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()  # refused before any work
    if shutil.which("srun") is None and importlib.util.find_spec("submitit") is not None:
        assert main(["sweep", str(spec), "--executor", "slurm"]) == 2
        assert "no Slurm here" in capsys.readouterr().err
    with pytest.raises(UsageError, match="no finished runs"):
        compare(SweepSpec.load(spec))


# ---- device_map (one large model sharded by accelerate) ----------------------------------------

def test_device_map_auto_runs_the_suite_with_the_same_results(tiny_models, tmp_path):
    """``device_map="auto"`` goes through accelerate's placement (on a CPU-only machine every
    module lands on the CPU); the hooks follow the modules, so the run's figures are the ones
    of an ordinary load, and results.json records where the modules went."""
    pytest.importorskip("accelerate")
    options = {**SHARED, "methods": ["probing", "patching"], "patch_pairs": 2}
    plain = run_suite(AnalyzeConfig(model=tiny_models["llama"], out=str(tmp_path / "plain"),
                                    **options))
    sharded = run_suite(AnalyzeConfig(model=tiny_models["llama"], out=str(tmp_path / "auto"),
                                      device_map="auto", **options))
    assert plain["model"]["device_map"] is None
    placed = set(sharded["model"]["device_map"].values())
    assert placed and all(d in ("cpu", "disk") or d.isdigit() or d.startswith("cuda")
                          for d in placed)
    assert sharded["config"]["device_map"] == "auto"
    for key in ("probing", "patching"):  # the same figures (on a GPU, up to float rounding)
        a, b = _leaves(plain[key]), _leaves(sharded[key])
        assert a.keys() == b.keys(), key
        for path, value in a.items():
            if isinstance(value, float):
                assert math.isclose(value, b[path], rel_tol=1e-3, abs_tol=1e-4) or (
                    math.isnan(value) and math.isnan(b[path])), path
            else:
                assert value == b[path], path
    with pytest.raises(UsageError, match="device_map"):
        AnalyzeConfig(model="m", device_map="everywhere")
    spec = SweepSpec.from_dict({"models": [tiny_models["llama"]], "out": str(tmp_path / "s"),
                                "analyze": {**SHARED, "device_map": "auto"}},
                               tmp_path / "s.yaml")
    assert [job.config.device_map for job in spec.jobs()] == ["auto"]


def _leaves(node: object, path: str = "") -> dict[str, object]:
    """Every leaf of a results.json section by its dotted path, timings left out."""
    if isinstance(node, dict):
        return {k: v for key, child in node.items() if key != "wall_time_s"
                for k, v in _leaves(child, f"{path}.{key}").items()}
    if isinstance(node, list):
        return {k: v for i, child in enumerate(node)
                for k, v in _leaves(child, f"{path}[{i}]").items()}
    return {path: float(node) if isinstance(node, int | float) and not isinstance(node, bool)
            else node}
