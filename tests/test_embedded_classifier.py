"""The embedded classifier: real all-MiniLM-L6-v2 weights, the shipped head, the corpus."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from affect_battery.cli import main
from affect_battery.core.battery import battery_frame
from affect_battery.core.constants import LABELS
from affect_battery.core.textstats import word_shingles
from affect_battery.validators.classifier import (
    EmbeddedClassifier,
    head_path,
    load_head,
    p_emotional,
    top_emotion,
)
from affect_battery.validators.train_classifier import (
    WEIGHT_ATOL,
    compare_head,
    corpus_path,
    load_corpus,
    train,
)

from .conftest import scenario_items, write_jsonl


@pytest.fixture(scope="module")
def clf() -> EmbeddedClassifier:
    return EmbeddedClassifier()


def test_head_is_safetensors_with_our_labels():
    weight, bias, labels = load_head()
    assert labels == list(LABELS)
    assert weight.shape == (len(LABELS), 384) and bias.shape == (len(LABELS),)
    assert head_path().read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle


@pytest.mark.parametrize("text,emotion", [
    ("I was absolutely furious when they cancelled my order without telling me.", "anger"),
    ("We were overjoyed and hugged each other when the results came in.", "joy"),
    ("She was terrified, shaking with fear as the footsteps came closer.", "fear"),
    ("He wept for weeks after his grandmother died; the grief was unbearable.", "sadness"),
])
def test_explicit_sentences_are_classified(clf, text, emotion):
    probs = clf.predict_proba([text])
    assert probs.shape == (1, len(LABELS))
    assert top_emotion(probs) == [emotion]
    assert p_emotional(probs)[0] > 0.5


def test_plain_sentence_reads_neutral(clf):
    probs = clf.predict_proba(["The bus leaves the depot at 7:15 and stops at the library."])
    assert probs[0].argmax() == LABELS.index("neutral")
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_corpus_is_balanced_and_disjoint_from_battery():
    texts, labels, _ = load_corpus()
    counts = Counter(labels)
    assert set(counts) == set(LABELS) and min(counts.values()) >= 60
    battery = set().union(*(word_shingles(t, 6) for t in battery_frame()["text"]))
    assert not [t for t in texts if word_shingles(t, 6) & battery]


def test_training_reproduces_shipped_head_on_any_cpu():
    """Bytes differ across CPU instruction sets; predictions and weights within 1e-3 must not."""
    result = train()
    assert result.holdout_accuracy >= 0.85
    cmp = compare_head(head_path(), result)
    assert cmp.max_weight_diff <= WEIGHT_ATOL
    assert cmp.holdout_predictions_equal and cmp.battery_predictions_equal
    assert cmp.reproduced
    assert result.corpus_sha256 == __import__("hashlib").sha256(
        corpus_path().read_bytes()).hexdigest()


def test_gate_with_defence(tmp_path, capsys):
    items = scenario_items("anger", 6, 5, seed=77)  # slots 1-4 are taken by the battery
    f = write_jsonl(tmp_path / "new.jsonl", items)
    code = main(["gate", str(f), "--defence", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    rows = {r["id"]: r for r in report["defence"]["items"]}
    assert set(rows) == {"C-anger-d6-5", "N-anger-d6-5"}
    for r in rows.values():
        assert 0 <= r["p_emotional"] <= 1 and 0 <= r["bow_p_clinical"] <= 1
        assert r["predicted_emotion"] in LABELS


def test_gate_defence_judges_a_neutral_against_its_own_clinical_item(tmp_path, capsys):
    """Swap a shipped pair: the 'neutral' now carries the clinical story, so it must score
    above its 'clinical' item and draw a pair warning; the relative rules stay quiet on the
    original orientation."""
    frame = battery_frame().set_index("id")
    clinical, neutral = frame.at["C-fear-d1-1", "text"], frame.at["N-fear-d1-1", "text"]

    def run(c_text: str, n_text: str) -> dict:
        f = write_jsonl(tmp_path / "pair.jsonl", [
            {"id": "C-fear-d6-5", "domain_label": "travel and nature", "text": c_text},
            {"id": "N-fear-d6-5", "domain_label": "travel and nature", "text": n_text}])
        main(["gate", str(f), "--no-battery", "--defence", "--format", "json"])
        return json.loads(capsys.readouterr().out)

    swapped = run(neutral, clinical)
    codes = {f["code"] for f in swapped["findings"] if f["item_id"] == "N-fear-d6-5"}
    assert "defence-pair-lexical" in codes
    row = {r["id"]: r for r in swapped["defence"]["items"]}["N-fear-d6-5"]
    assert 0 <= row["p_emotional_percentile_among_neutrals"] <= 1
    assert ("defence-pair-emotional" in codes) == (row["p_emotional"]
                                                   >= row["clinical_p_emotional"])
    straight = run(clinical, neutral)
    codes = {f["code"] for f in straight["findings"] if f["item_id"] == "N-fear-d6-5"}
    assert "defence-pair-lexical" not in codes
