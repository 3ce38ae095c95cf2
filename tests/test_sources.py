"""Reading another team's battery: the AIPsy-Affect importer, our own layouts, ``--battery``.

The fixture is written here, in the AIPsy-Affect *layout* as described in issue #19 (splits,
columns, id forms, intense-ring labels); its texts are invented for this test and have nothing
to do with that battery's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from affect_battery.cli import main
from affect_battery.core.columns import COLUMNS
from affect_battery.core.sources import (
    RING_LABELS,
    SOURCE_ID,
    export_files,
    load_source,
    parse_hf_spec,
)
from affect_battery.errors import InputError, UsageError

SETTINGS = {
    ("rage", 1): ("Dara", "kitchen", "the landlord had thrown her late mother's letters into "
                  "the bin to make room for his own boxes"),
    ("rage", 2): ("Tomas", "office", "his manager had presented Tomas's year of research to "
                  "the board under the manager's own name"),
    ("terror", 1): ("Ines", "hallway", "the front door she had locked an hour ago stood open "
                    "and wet footprints led up the stairs"),
    ("terror", 2): ("Ravi", "lab", "the sealed cabinet of samples had cracked and a sharp "
                    "smell was filling the small room"),
}
NEUTRAL = {
    ("rage", 1): "the landlord had moved her late mother's letters into a box to make room "
                 "for his own boxes",
    ("rage", 2): "his manager had presented Tomas's year of research to the board with the "
                 "team's own name",
    ("terror", 1): "the front door she had painted an hour ago stood open and wet brushes "
                   "lay by the stairs",
    ("terror", 2): "the sealed cabinet of samples had been moved and a fresh label was "
                   "on the small door",
}
PRIMARY = {"rage": "anger", "terror": "fear"}


def _text(name: str, place: str, what: str, n: int) -> str:
    opener = ["On Tuesday", "Late one evening"][n - 1]
    return (f"{opener} {name} walked into the {place} and saw that {what}. "
            f"{name} set the keys down on the shelf and looked at it for a long moment.")


def aipsy_rows() -> dict[str, list[dict]]:
    """2 emotions x 2 domains x 2 items, their controls, moderates in d1, 4 complex neutrals."""
    rows: dict[str, list[dict]] = {"clinical": [], "neutral": [], "moderate": [],
                                   "complex_neutral": []}
    for (label, d), (name, place, what) in SETTINGS.items():
        for n in (1, 2):
            cid = f"B-{label}-d{d}-v{n}"
            # one control is numbered apart from its clinical item: the link decides
            nid = f"N-{label}-d{d}-c{7 if (label, d, n) == ('rage', 2, 2) else n}"
            text = _text(name, place, what, n)
            rows["clinical"].append(dict(
                id=cid, emotion=label, intensity="high", domain=d,
                domain_label=["home", "work"][d - 1], matched_control_id=nid,
                word_count=len(text.split()), text=text))
            ntext = _text(name, place, NEUTRAL[(label, d)], n)
            rows["neutral"].append(dict(
                id=nid, emotion="neutral", intensity="none", domain=d,
                domain_label=["home", "work"][d - 1], matched_control_id=cid,
                word_count=len(ntext.split()), text=ntext))
            if d == 1:
                mtext = _text(name, place, what.replace("had", "had nearly"), n)
                rows["moderate"].append(dict(
                    id=f"M-{label}-d1-v{n}", emotion=PRIMARY[label], intensity="moderate",
                    domain=1, domain_label="home", matched_control_id=cid,
                    word_count=len(mtext.split()), text=mtext))
    plain = [("workshop", "Olek sanded the oak bench in the workshop, measured each leg twice, "
              "oiled the hinges of the tool chest and swept the shavings into a sack."),
             ("workshop", "Mina sorted the screws in the workshop by length, labelled twelve "
              "jars, hung the saws on their hooks and logged the drill bits in a book."),
             ("allotment", "Piet dug two rows on the allotment, set the onion sets ten "
              "centimetres apart, watered the beans and wrote the dates on a slate."),
             ("allotment", "Sanne tied the tomato stems on the allotment to canes, pulled "
              "the weeds along the path and stacked the empty pots by the shed.")]
    for k, (theme, text) in enumerate(plain, start=1):
        rows["complex_neutral"].append(dict(
            id=f"CN-{theme}-{k}", emotion="neutral", intensity="none", domain=None,
            domain_label=theme, matched_control_id=None, word_count=len(text.split()),
            text=text))
    return rows


def write_aipsy(folder: Path, fmt: str = "parquet",
                rows: dict[str, list[dict]] | None = None) -> Path:
    rows = aipsy_rows() if rows is None else rows
    for split, part in rows.items():
        frame = pd.DataFrame(part)
        if fmt == "parquet":
            (folder / "data").mkdir(parents=True, exist_ok=True)
            frame.to_parquet(folder / "data" / f"{split}-00000-of-00001.parquet", index=False)
        elif fmt == "jsonl":
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{split}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            frame.to_csv(folder / f"{split}.csv", index=False)
    return folder


@pytest.fixture
def aipsy(tmp_path: Path) -> Path:
    return write_aipsy(tmp_path / "aipsy")


# ---- the importer --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_aipsy_layout_is_detected_and_mapped_onto_our_ids(tmp_path, fmt):
    src = load_source(write_aipsy(tmp_path / fmt, fmt))
    assert src.layout == "aipsy" and src.imported
    m = dict(zip(src.frame[SOURCE_ID], src.frame["id"], strict=True))
    assert m["B-rage-d1-v1"] == "C-anger-d1-1"
    assert m["N-rage-d1-c1"] == "N-anger-d1-1"
    assert m["B-terror-d2-v2"] == "C-fear-d2-2"
    assert m["M-terror-d1-v2"] == "M-fear-d1-2"
    assert m["N-rage-d2-c7"] == "N-anger-d2-2"  # placed by its link, not its own number
    # complex neutrals: X-<theme from domain_label>-NN, in natural id order per theme
    assert m["CN-workshop-1"] == "X-workshop-01" and m["CN-workshop-2"] == "X-workshop-02"
    assert m["CN-allotment-3"] == "X-allotment-01"
    frame = src.frame.set_index("id")
    assert frame.loc["C-anger-d1-1", "emotion"] == "anger"
    assert frame.loc["N-anger-d1-1", "emotion"] == "neutral"
    assert frame.loc["N-anger-d1-1", "matched_control_id"] == "C-anger-d1-1"
    assert frame.loc["M-fear-d1-2", "source_id"] == "C-fear-d1-2"
    assert frame.loc["C-anger-d1-1", "domain_label"] == "home"  # theirs, kept
    assert frame.loc["C-fear-d2-1", "intensity"] == "peak"  # ours, from the split
    counts = src.frame["split"].value_counts().to_dict()
    assert counts == {"clinical": 8, "neutral": 8, "moderate": 4, "complex_neutral": 4}
    # the provenance column never enters the stimulus columns
    assert SOURCE_ID not in COLUMNS and list(src.stimuli().columns) == list(COLUMNS)


def test_mapping_is_deterministic_whatever_the_row_order(tmp_path):
    rows = aipsy_rows()
    shuffled = {k: list(reversed(v)) for k, v in rows.items()}
    a = load_source(write_aipsy(tmp_path / "a", "jsonl", rows)).mapping()
    b = load_source(write_aipsy(tmp_path / "b", "jsonl", shuffled)).mapping()
    pd.testing.assert_frame_equal(a, b)


def test_moderate_without_a_parsable_id_is_placed_by_its_link(tmp_path):
    rows = aipsy_rows()
    rows["moderate"][0]["id"] = "MOD-0001"  # an id form we were not told about
    src = load_source(write_aipsy(tmp_path / "m", "jsonl", rows))
    link = rows["moderate"][0]["matched_control_id"]  # its clinical item, B-rage-d1-v1
    m = dict(zip(src.frame[SOURCE_ID], src.frame["id"], strict=True))
    assert m["MOD-0001"] == "M-" + m[link].removeprefix("C-")


def test_one_file_with_a_split_column(tmp_path):
    rows = aipsy_rows()
    one = [dict(r, split=split) for split, part in rows.items() for r in part]
    path = tmp_path / "all.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in one), encoding="utf-8")
    assert load_source(path).mapping().equals(load_source(write_aipsy(
        tmp_path / "f", "jsonl", rows)).mapping())
    # without it, the B/N/M prefixes tell the split, but complex_neutral ids cannot
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "split"}) + "\n"
                            for r in one), encoding="utf-8")
    with pytest.raises(InputError, match="cannot tell the split") as err:
        load_source(path)
    assert "CN-workshop-1" in str(err.value)


def test_ring_labels_map_to_primaries():
    intense = {"rage": "anger", "terror": "fear", "grief": "sadness", "loathing": "disgust",
               "amazement": "surprise", "admiration": "trust", "ecstasy": "joy",
               "vigilance": "anticipation"}
    for label, primary in intense.items():
        assert RING_LABELS[label] == primary
    assert RING_LABELS["annoyance"] == "anger" and RING_LABELS["joy"] == "joy"


def test_capabilities_and_notes_say_what_cannot_run(aipsy):
    src = load_source(aipsy)
    nc = src.not_computed()
    assert set(nc) == {"twins", "positive_control", "norms"}
    assert "keyword_rich" in nc["twins"]
    assert "keyword-rich twins: absent, twin checks skipped" in src.notes
    assert "complex_neutral split: present" in src.notes
    # without complex_neutral and moderate files, those are named too
    rows = aipsy_rows()
    del rows["complex_neutral"], rows["moderate"]
    slim = load_source(write_aipsy(aipsy.parent / "slim", "jsonl", rows))
    assert {"complex_neutral", "moderate"} <= set(slim.not_computed())


def test_forced_format_and_our_own_layouts(tmp_path, aipsy):
    assert load_source(aipsy, fmt="aipsy").layout == "aipsy"
    with pytest.raises(UsageError, match="battery-format"):
        load_source(aipsy, fmt="other")
    # our data folder layout (AFFECT_BATTERY_DATA), read as is
    ours = load_source(Path(__file__).resolve().parents[1] / "data")
    assert ours.layout == "affect-battery" and not ours.imported
    assert ours.not_computed() == {}
    assert (ours.frame[SOURCE_ID] == ours.frame["id"]).all()
    # an export of the imported battery reads back with its ids and provenance
    out = tmp_path / "exported"
    for rel, data in export_files(load_source(aipsy)).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    back = load_source(out)
    assert back.layout == "affect-battery export" and back.imported
    pd.testing.assert_frame_equal(back.stimuli(), load_source(aipsy).stimuli())
    assert set(back.frame[SOURCE_ID]) == set(load_source(aipsy).frame[SOURCE_ID])


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["clinical"][0].update(id="B-fury-d1-v1"), "unknown emotion label 'fury'"),
    (lambda r: r["clinical"][1].update(emotion="grief"), "emotion column says 'grief'"),
    (lambda r: r["clinical"][2].pop("text"), "missing required column 'text'"),
    (lambda r: r["neutral"].append(dict(r["neutral"][0])), "duplicate id"),
])
def test_unusable_rows_name_file_line_and_id(tmp_path, mutate, message):
    rows = aipsy_rows()
    mutate(rows)
    folder = write_aipsy(tmp_path / "bad", "jsonl", rows)
    with pytest.raises(InputError, match=message) as err:
        load_source(folder)
    assert ".jsonl:" in str(err.value) and "\n" not in str(err.value)


def test_unknown_layout_is_one_line(tmp_path, capsys):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "clinical.jsonl").write_text('{"id": "item-17", "text": "A plain text."}\n')
    with pytest.raises(InputError, match="unknown battery layout"):
        load_source(folder)
    assert main(["stats", "--battery", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "clinical.jsonl:1 item-17: unknown battery layout" in err
    assert main(["stats", "--battery", str(tmp_path / "missing")]) == 2


# ---- hf: specs -----------------------------------------------------------------------------

def test_hf_spec_parsing():
    assert parse_hf_spec("hf:lab/aipsy-affect") == ("lab/aipsy-affect", None)
    assert parse_hf_spec("hf:lab/aipsy_affect.v2@v1.2.0") == ("lab/aipsy_affect.v2", "v1.2.0")
    for bad in ("hf:", "hf:noslash", "hf:a/b/c", "hf:lab/x@"):
        with pytest.raises(UsageError, match="hf:ORG/NAME"):
            parse_hf_spec(bad)


def test_hf_unreachable_hub_is_one_line_exit_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["stats", "--battery", "hf:some-lab/not-cached-anywhere"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert ("hf:some-lab/not-cached-anywhere: cannot fetch the dataset: the Hub is "
            "unreachable") in err


def test_hf_snapshot_in_the_cache_is_read_offline(tmp_path, monkeypatch):
    """The hf: path end to end through ``snapshot_download``, offline, from a cache laid out
    as huggingface_hub lays it out (refs/main -> snapshots/<commit>/...)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "datasets--some-lab--aipsy-affect"
    write_aipsy(repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    src = load_source("hf:some-lab/aipsy-affect", cache_dir=tmp_path / "hub")
    assert src.name == "some-lab/aipsy-affect" and src.revision == commit
    assert src.layout == "aipsy" and len(src.frame) == 24


# ---- the commands ----------------------------------------------------------------------------

def test_stats_battery(aipsy, capsys):
    assert main(["stats", "--battery", str(aipsy)]) == 0
    out = capsys.readouterr().out
    assert "aipsy, imported" in out and "keyword-rich twins: absent" in out
    assert main(["stats", "--battery", str(aipsy), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["clinical"] == 8 and data["counts"]["keyword_rich"] == 0
    assert data["battery"]["layout"] == "aipsy" and "twins" in data["battery"]["not_computed"]


def test_validate_battery_schema_only_is_draft_unless_strict(aipsy, capsys):
    assert main(["validate", "--battery", str(aipsy), "--schema-only", "--format",
                 "json"]) == 1  # our design rules find lengths and sentence counts apart
    captured = capsys.readouterr()
    assert json.loads(captured.out)["strict"] is False and "draft mode" in captured.err
    main(["validate", "--battery", str(aipsy), "--schema-only", "--format", "json",
          "--strict"])
    data = json.loads(capsys.readouterr().out)
    assert data["strict"] is True
    assert any(f["code"] == "count" for f in data["findings"])


def test_validate_battery_end_to_end(aipsy, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["validate", "--battery", str(aipsy), "--classifier", "none",
                 "--out", str(out), "--no-figures"])
    assert code == 1  # our design rules (lengths, sentence counts) find the fixture apart
    text = capsys.readouterr().out
    assert "Mode: draft" in text and "not computed: no keyword_rich split" in text
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "draft"
    assert report["not_computed"]["twins"]["computed"] is False
    assert "keyword_rich" in report["not_computed"]["twins"]["reason"]
    assert report["norms"]["computed"] is False
    assert "no reading norms stored" in report["norms"]["note"]
    assert report["battery_source"]["layout"] == "aipsy"
    assert report["counts"]["clinical"] == 8
    assert "twins" in (out / "battery-source.md").read_text()
    # the report is a valid report: it round-trips
    from affect_battery.validators.defence import DefenceReport
    assert DefenceReport.from_dict(report).to_dict() == report


def test_export_battery_writes_a_loadable_folder(aipsy, tmp_path, capsys):
    import datasets

    out = tmp_path / "export"
    assert main(["export", str(out), "--battery", str(aipsy), "--classifier", "none"]) == 0
    card = (out / "README.md").read_text()
    assert "imported from the aipsy layout" in card and "**not** the affect-battery" in card
    assert "keyword-rich twins: absent" in card
    ds = datasets.load_dataset(str(out))
    assert set(ds) == {"clinical", "neutral", "moderate", "complex_neutral"}
    row = ds["clinical"][0]
    assert row["id"] == "C-fear-d1-1" and row[SOURCE_ID] == "B-terror-d1-v1"
    from affect_battery.core.digest import battery_digest
    report = json.loads((out / "defence_report.json").read_text())
    assert report["battery_sha256"] == battery_digest(load_source(aipsy).stimuli())
    assert report["mode"] == "draft" and "twins" in report["not_computed"]
    meta = json.loads((out / "source.json").read_text())
    assert {"source_item_id": "B-rage-d1-v1", "id": "C-anger-d1-1", "split": "clinical",
            "source_emotion": "anger"} in meta["mapping"]
    # a report of other data is refused; the report of these items is reused as is
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**report, "battery_sha256": "0" * 64}))
    assert main(["export", str(tmp_path / "e2"), "--battery", str(aipsy), "--report",
                 str(wrong)]) == 2
    assert "different data" in capsys.readouterr().err
    right = tmp_path / "right.json"
    right.write_text(json.dumps(report))
    assert main(["export", str(tmp_path / "e3"), "--battery", str(aipsy), "--report",
                 str(right)]) == 0
    assert (tmp_path / "e3" / "defence_report.json").read_text() == (
        out / "defence_report.json").read_text()


def save_tiny_gpt2(folder: Path) -> Path:
    """A 2-layer random GPT-2 whose word-level vocabulary holds the nine answer labels (so
    the logit read-outs have distinct label tokens), saved as a local model folder."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from affect_battery.analyses.prompts import ANSWER_LABELS

    from .tiny_models import WORDS

    torch.manual_seed(0)
    words = list(dict.fromkeys(["[PAD]", "[UNK]", *WORDS, *ANSWER_LABELS]))
    tok = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)},
                                     unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   model_max_length=256)
    cfg = GPT2Config(vocab_size=len(words), n_embd=32, n_layer=2, n_head=2, n_positions=256,
                     pad_token_id=0)
    GPT2LMHeadModel(cfg).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def test_analyze_battery_on_a_tiny_model(aipsy, tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("AFFECT_BATTERY_CACHE", str(tmp_path / "cache"))
    model = save_tiny_gpt2(tmp_path / "tiny-gpt2")
    out = tmp_path / "run"
    code = main(["analyze", "--model", str(model), "--battery", str(aipsy), "--max-items", "8",
                 "--permutations", "2", "--patch-pairs", "2", "--knockout-items", "1",
                 "--layers", "0,1", "--no-cache", "--out", str(out)])
    assert code == 0  # every method, on a battery without twins: nothing crashes
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["battery"] == str(aipsy)
    assert results["battery"]["splits"]["keyword_rich"] == 0
    assert results["battery"]["splits"]["clinical"] > 0
    for key in ("probing", "patching", "knockout", "geometry", "steering"):
        assert key in results, key
    pair_types = results["patching"]["pair_types"]
    assert "clinical_to_neutral" in pair_types and "keyword_rich_to_clinical" not in pair_types
    # the same battery digest as validate --battery computes: runs are comparable
    from affect_battery.core.digest import battery_digest
    assert results["battery"]["sha256"] == battery_digest(load_source(aipsy).stimuli())
    assert "twins" in results["battery"]["source"]["not_computed"]
