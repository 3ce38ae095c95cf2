from pathlib import Path

import pytest

from affect_battery.core.constants import EMOTIONS
from affect_battery.errors import InputError
from affect_battery.validators.lexicon import Lexicon, load_lexicon, screen_text


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return load_lexicon()


@pytest.mark.parametrize("text,term,emotion", [
    ("She was furious.", "furious", "anger"),
    ("He left the room Furiously.", "Furiously", "anger"),
    ("A rage-filled crowd gathered.", "rage", "anger"),
    ("The news left him heart-broken.", "heart-broken", "sadness"),
    ("She was heartbroken.", "heartbroken", "sadness"),
    ("They were terrified.", "terrified", "fear"),
    ("A sense of dread settled.", "dread", "fear"),
    ("The winners were elated.", "elated", "joy"),
    ("She was over the moon about it.", "over the moon", "joy"),
    ("His heart sank at the letter.", "heart sank", "sadness"),
    ("He lost his temper at the desk.", "lost his temper", "anger"),
    ("FEAR'S grip tightened.", "FEAR'S", "fear"),
    ("She couldn\u2019t believe her eyes.", "couldn\u2019t believe her eyes", "surprise"),
    ("He waited, on tenterhooks, for the call.", "on tenterhooks", "anticipation"),
    ("The smell was revolting.", "revolting", "disgust"),
    ("She trusted him completely.", "trusted", "trust"),
    ("He panicked when the lights failed.", "panicked", "fear"),
    ("They sobbed at the graveside.", "sobbed", "sadness"),
])
def test_catches_explicit_terms(lex, text, term, emotion):
    hits = lex.screen(text)
    assert any(h.matched == term and emotion in h.emotions for h in hits), hits
    hit = next(h for h in hits if h.matched == term)
    assert text[hit.start:hit.end] == term


@pytest.mark.parametrize("text", [
    "The scarecrow stood in the field.",       # contains "scare"
    "He made tea and sat down.",               # contains "mad"
    "She set the alarm clock for six.",
    "Pine trees lined the road.",
    "The exhaust fumes drifted over the car park.",
    "He had a sore throat and a pain relief tablet.",
    "They moved the piano against the wall.",
    "The madrigal choir sang in the gladed square.",  # mad, glad inside words
    "The gladiolus bulbs were planted in rows.",  # contains "glad"
    "Sadie and Hopewell counted the crates.",     # names containing sad/hope
])
def test_no_false_positive_inside_words(lex, text):
    assert lex.screen(text) == []


def test_lexicon_size_and_coverage(lex):
    assert lex.surface_forms() >= 800
    by_cat = lex.forms_by_category()
    for emo in EMOTIONS:
        assert by_cat[emo] >= 80, emo
    assert "general" in by_cat


def test_multiword_requires_adjacency(lex):
    assert lex.screen("over the moon") != []
    assert lex.screen("over. The moon") == []
    assert lex.screen("heart, sank") == []


def test_custom_lexicon_and_bad_section(tmp_path: Path):
    path = tmp_path / "lex.yaml"
    path.write_text("anger:\n  verb: [glower]\n  idiom: ['saw {pron} red']\n", encoding="utf-8")
    custom = load_lexicon(path)
    assert [h.matched for h in custom.screen("She glowered. He saw her red.")] == [
        "glowered", "saw her red"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("anger:\n  adverbs: [angrily]\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown section"):
        load_lexicon(bad)


def test_screen_text_uses_shipped_lexicon():
    assert [h.emotions for h in screen_text("She was furious.")] == [("anger",)]


def test_unusable_lexicon_file_is_an_input_error(tmp_path: Path):
    """A user's --lexicon that is missing or not YAML ends in one line and exit 2."""
    from affect_battery.cli import main

    with pytest.raises(InputError, match="lexicon file not found"):
        load_lexicon(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("anger: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a valid lexicon"):
        load_lexicon(bad)
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "C-anger-d5-1", "text": "The bus left."}\n', encoding="utf-8")
    assert main(["gate", str(items), "--no-battery", "--lexicon", str(bad)]) == 2
