"""The Hub folder: real load_dataset offline, determinism, card vs report, diff and push."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from affect_battery.cli import main
from affect_battery.core.battery import battery_frame
from affect_battery.core.constants import LABELS, SPLITS
from affect_battery.core.digest import battery_digest
from affect_battery.publish.export import (
    ExportError,
    export,
    read_export,
    verify_export,
)
from affect_battery.validators.defence import run_defence
from affect_battery.validators.lexical import TARGET_TFIDF_AUROC


@pytest.fixture(scope="module")
def report() -> dict:
    rep, _ = run_defence(battery_frame(), classifier=None, strict=True)
    return rep.to_dict()


REPO = "org/affect-battery"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, report) -> Path:
    return export(tmp_path_factory.mktemp("hub") / "out", report, repo_id=REPO)


def _offline_probe(probe: str, cache: Path) -> tuple[dict, str]:
    """Run ``probe`` in a fresh interpreter with the Hub offline; its last stdout line is JSON."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(cache)}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_load_dataset_offline_reads_the_export(exported):
    probe = (
        "import json, datasets\n"
        f"d = datasets.load_dataset({str(exported)!r})\n"
        f"c = datasets.load_dataset({str(exported)!r}, split='clinical')\n"
        "f = d['clinical'].features['emotion']\n"
        "print(json.dumps({'splits': {k: v.num_rows for k, v in d.items()},\n"
        "  'names': f.names, 'is_label': type(f).__name__, 'clinical': c.num_rows,\n"
        "  'first': [c[0]['id'], f.int2str(c[0]['emotion']), c[0]['domain']]}))\n"
    )
    info, stderr = _offline_probe(probe, exported.parent / "cache")
    assert info["splits"] == {"clinical": 192, "neutral": 192, "moderate": 48,
                              "keyword_rich": 96, "complex_neutral": 48}
    assert info["is_label"] == "ClassLabel" and info["names"] == list(LABELS)
    assert info["clinical"] == 192
    item_id, emotion, domain = info["first"]
    assert item_id.startswith("C-") and emotion == item_id.split("-")[1] and domain >= 1
    assert "malformed" not in stderr


def test_export_is_deterministic_and_round_trips(exported, report, tmp_path):
    again = export(tmp_path / "again", report, repo_id=REPO)
    files = sorted(p.relative_to(exported) for p in exported.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (exported / rel).read_bytes() == (again / rel).read_bytes(), rel
    assert battery_digest(read_export(exported)) == battery_digest(battery_frame())
    assert {f"data/{s}-00000-of-00001.parquet" for s in SPLITS} <= {str(f) for f in files}
    for name in ("README.md", "DATASHEET.md", "CITATION.cff", "CHANGELOG.md", "MANIFEST.sha256",
                 "defence_report.json"):
        assert (exported / name).is_file()


def test_card_numbers_come_from_the_report(exported, report, tmp_path):
    card = (exported / "README.md").read_text()
    lx = report["lexical"]["clinical_vs_neutral"]
    assert f"AUROC {lx['tfidf_auroc']:.3f} (target <= {TARGET_TFIDF_AUROC:.2f})" in card
    assert f"Word count alone gives AUROC {lx['wordcount_auroc']:.3f}" in card
    assert f"{report['keyword_screen']['lexicon_surface_forms']} surface forms" in card
    assert "| anger | 24 | 24 | 6 | 12 | 0 |" in card
    assert verify_export(exported) == []
    # a report with another number renders another card: nothing is typed by hand
    altered = json.loads(json.dumps(report))
    altered["lexical"]["clinical_vs_neutral"]["tfidf_auroc"] = 0.1234
    other = export(tmp_path / "other", altered)
    assert f"AUROC 0.123 (target <= {TARGET_TFIDF_AUROC:.2f})" in (other / "README.md").read_text()


def test_verify_catches_hand_edits_and_tampering(exported, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    card = copy / "README.md"
    card.write_text(card.read_text().replace("(target <= 0.80)", "(target <= 0.90)", 1))
    problems = verify_export(copy)
    assert any("README.md: content differs from the manifest" in p for p in problems)
    assert any("differs from the card rendered" in p for p in problems)
    (copy / "data" / "extra.txt").write_text("x")
    assert any("extra.txt: not in the manifest" in p for p in verify_export(copy))
    code = main(["export", "--verify", str(copy)])
    assert code == 1


def test_export_refusals(exported, report, tmp_path, mini_battery, monkeypatch, capsys):
    monkeypatch.setenv("AFFECT_BATTERY_PROGRESS", "0")  # stderr holds the error line alone
    code = main(["export", str(exported), "--report", str(exported / "defence_report.json")])
    assert code == 2 and "not empty; use --force" in capsys.readouterr().err
    draft = dict(report, mode="draft")
    with pytest.raises(ExportError, match="draft mode"):
        export(tmp_path / "d", draft)
    stale = dict(report, battery_sha256="0" * 64)
    with pytest.raises(ExportError, match="different data"):
        export(tmp_path / "s", stale)
    assert not (tmp_path / "d").exists() and not (tmp_path / "s").exists()
    monkeypatch.setenv("AFFECT_BATTERY_DATA", str(mini_battery))
    code = main(["export", str(tmp_path / "m"), "--report",
                 str(exported / "defence_report.json")])
    err = capsys.readouterr().err
    assert code == 2 and "fails strict validation" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_diff_between_exports(exported, report, tmp_path, capsys):
    import pyarrow.parquet as pq

    new = export(tmp_path / "new", report)
    path = new / "data" / "clinical-00000-of-00001.parquet"
    table = pq.read_table(path).to_pandas()
    table.loc[0, "text"] = table.loc[0, "text"] + " Changed."
    changed_id = table.loc[0, "id"]
    removed_id = table.loc[1, "id"]
    table = table.drop(index=1)
    table.to_parquet(path)
    code = main(["diff", str(exported), str(new), "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0
    assert d["removed"] == [removed_id] and d["added"] == []
    assert d["changed"] == [{"id": changed_id, "columns": ["text"]}]
    code = main(["diff", str(exported), "current"])
    assert code == 0 and "0 added, 0 removed, 0 changed" in capsys.readouterr().out


def test_diff_refuses_unrelated_or_non_exports(exported, tmp_path, capsys):
    (tmp_path / "junk").mkdir()
    assert main(["diff", str(exported), str(tmp_path / "junk")]) == 2
    assert "not an affect-battery export" in capsys.readouterr().err


def test_push_dry_run_lists_exactly_the_upload(exported, capsys):
    code = main(["push", str(exported), "--repo-id", REPO, "--tag", "v0.1.0", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    listed = [line.split()[-1] for line in out.splitlines() if line.split()[0].isdigit()]
    files = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*")
                   if p.is_file())
    assert sorted(listed) == files
    # offline, the plan still says what happens to the files the export no longer has
    assert f"delete: every other file of datasets/{REPO} except .gitattributes" in out
    assert out.strip().splitlines()[-1].endswith("; tag v0.1.0 on the new commit")


def test_push_without_token_or_network_fails_cleanly(exported, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code = main(["push", str(exported), "--repo-id", REPO, "--tag", "v0.1.0"])
    err = capsys.readouterr().err
    assert code == 2 and "no Hugging Face token" in err and len(err.strip().splitlines()) == 1
    secret = "hf_" + "x" * 30
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["push", str(exported), "--repo-id", REPO, "--tag", "v0.1.0"])
    out = capsys.readouterr()
    assert code == 2 and f"push to {REPO} failed" in out.err
    assert secret not in out.err and secret not in out.out
    code = main(["push", str(exported), "--repo-id", REPO, "--tag", "v9.9.9"])
    assert code == 2 and "does not match" in capsys.readouterr().err


def test_export_with_analyses_results_verifies(report, tmp_path):
    results = {"schema_version": 1, "model": {"id": "smollm2-135m"},
               "headline": {"rsa_rho": -0.08, "binary_auroc_best": 0.77, "binary_best_layer": 27}}
    out = export(tmp_path / "with-results", report, results, repo_id=REPO)
    card = (out / "README.md").read_text()
    assert "## Reference analyses (smollm2-135m)" in card and "binary auroc best: 0.770" in card
    assert verify_export(out) == []


def test_export_ships_norm_columns_and_the_norms_config(exported):
    probe = (
        "import json, datasets\n"
        f"d = datasets.load_dataset({str(exported)!r}, split='neutral')\n"
        f"r = datasets.load_dataset({str(exported)!r}, 'norms', split='ratings')\n"
        "print(json.dumps({'cols': d.column_names, 'n_ratings': r.num_rows,\n"
        "  'rating_cols': r.column_names, 'norm_n': d[0]['norm_n'],\n"
        "  'current': sum(r['current'])}))\n"
    )
    info, _stderr = _offline_probe(probe, exported.parent / "cache-norms")
    assert {"norm_n", "norm_agreement", "norm_intensity_mean", "norm_intensity_sd",
            "norm_p_none"} <= set(info["cols"])
    assert info["n_ratings"] >= 1440 and 0 < info["current"] <= info["n_ratings"]
    assert {"reader", "item_id", "text_sha256", "label", "intensity",
            "current"} <= set(info["rating_cols"])
    assert verify_export(exported) == []


def test_one_row_order_and_the_pairs_configs_through_load_dataset(exported):
    """load_battery() equals the exported default config row for row; pairs and quadruplets
    load as their own configs with a scenario key that joins them to the items."""
    from affect_battery import load_battery
    from affect_battery.core.columns import PAIR_SPEC, QUADRUPLET_SPEC

    probe = (
        "import hashlib, json, datasets\n"
        f"folder = {str(exported)!r}\n"
        "d = datasets.load_dataset(folder)\n"
        "p = datasets.load_dataset(folder, 'pairs', split='pairs')\n"
        "q = datasets.load_dataset(folder, 'quadruplets', split='quadruplets')\n"
        "rows = {k: hashlib.sha256(json.dumps(v.to_list(), sort_keys=True).encode()).hexdigest()\n"
        "        for k, v in d.items()}\n"
        "print(json.dumps({'rows': rows, 'ids': {k: list(v['id']) for k, v in d.items()},\n"
        "  'pairs': p.to_list(), 'pair_cols': p.column_names,\n"
        "  'pair_label': type(p.features['emotion']).__name__,\n"
        "  'quads': q.to_list(), 'quad_cols': q.column_names}))\n"
    )
    info, _ = _offline_probe(probe, exported.parent / "cache-configs")
    battery = load_battery()
    for split in SPLITS:
        assert info["ids"][split] == list(battery[split]["id"]), split
        mine = json.dumps(battery[split].to_list(), sort_keys=True).encode()
        assert info["rows"][split] == __import__("hashlib").sha256(mine).hexdigest(), split
    assert info["ids"]["clinical"][:2] == ["C-joy-d1-1", "C-joy-d1-2"]
    assert info["ids"]["neutral"][0] == "N-joy-d1-1"
    for split in ("clinical", "neutral", "moderate", "keyword_rich"):
        assert all(s == i[2:] for s, i in zip(battery[split]["scenario"],
                                               battery[split]["id"], strict=True))

    pairs = info["pairs"]
    assert info["pair_cols"] == [c.name for c in PAIR_SPEC] and info["pair_label"] == "ClassLabel"
    assert len(pairs) == 192
    assert [r["clinical_id"] for r in pairs] == info["ids"]["clinical"]
    by_id = {r["id"]: r for r in battery["neutral"].to_list() + battery["clinical"].to_list()}
    for r in pairs:
        c, n = by_id[r["clinical_id"]], by_id[r["neutral_id"]]
        assert c["scenario"] == n["scenario"] == r["scenario"]
        assert (r["clinical_text"], r["neutral_text"]) == (c["text"], n["text"])
        assert (r["clinical_words"], r["neutral_words"]) == (c["word_count"], n["word_count"])
        assert r["emotion"] == c["emotion"] and r["domain"] == c["domain"]

    quads = info["quads"]
    assert info["quad_cols"] == [c.name for c in QUADRUPLET_SPEC]
    assert len(quads) == 96  # 8 emotions x 6 domains x items 1-2
    for r in quads:
        assert r["keyword_rich_id"] == "K-" + r["scenario"]
        assert r["neutral_id"] == "N-" + r["scenario"] and r["clinical_id"] == "C-" + r["scenario"]
        has_moderate = r["domain"] <= 3
        assert (r["moderate_id"] is not None) == has_moderate
        assert (r["moderate_text"] is not None) == has_moderate


def test_card_front_matter_is_what_huggingface_hub_parses(exported):
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    from affect_battery.core.columns import EXTRA_CONFIGS, SPEC, features

    card_text = (exported / "README.md").read_text()
    data = DatasetCard(card_text).data
    assert data.annotations_creators and data.language_creators
    assert "machine-generated" in data.language_creators
    assert data.source_datasets == ["original"] and data.multilinguality == ["monolingual"]
    assert data.task_categories == ["text-classification"]
    assert data.task_ids == ["multi-class-classification"]
    assert "synthetic" in data.tags and data.license == "apache-2.0"
    assert data["affect_battery"] == {"repo_id": REPO, "version": "0.1.0", "tag": "v0.1.0"}
    configs = MetadataConfigs.from_dataset_card_data(data)
    assert set(configs) == {"default", *EXTRA_CONFIGS}
    assert configs.get_default_config_name() == "default"
    infos = DatasetInfosDict.from_dataset_card_data(data)
    assert infos["default"].features == features(SPEC)
    for name, (split, spec) in EXTRA_CONFIGS.items():
        assert infos[name].features == features(spec)
        assert infos[name].splits[split].num_examples > 0
    assert infos["default"].splits["clinical"].num_examples == 192
    # the body: uses, limits and how to pin a version, naming the repository given at export
    for heading in ("## Uses", "## Out-of-scope uses", "## Limitations", "### Loading a version"):
        assert heading in card_text
    assert f'load_dataset("{REPO}", revision="v0.1.0")' in card_text
    assert "affect-battery/affect-battery" not in card_text
    citation = (exported / "CITATION.cff").read_text()
    assert f"datasets/{REPO}" in citation and "affect-battery/affect-battery" not in citation


def test_published_documents_point_only_at_files_that_exist(exported):
    import re

    root = Path(__file__).resolve().parents[1]
    for name in ("README.md", "DATASHEET.md"):
        text = (exported / name).read_text()
        for ref in set(re.findall(r"`((?:docs|data)/[\w./-]+\.md)`", text)):
            assert (root / ref).is_file(), f"{name} points at {ref}, which does not exist"
        assert "DESIGN.md" not in text


def test_export_refuses_a_bad_repo_id_before_any_work(tmp_path, capsys):
    for bad in ("not-a-valid/repo/id", "no-namespace", "org/bad--name"):
        code = main(["export", str(tmp_path / "x"), "--repo-id", bad])
        err = capsys.readouterr().err
        assert code == 2 and bad in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
