import pytest

from affect_battery.core.ids import BadId, derived_fields, parse_id
from affect_battery.core.textstats import (
    character_names,
    jaccard,
    sentence_count,
    word_count,
    word_set,
    word_shingles,
)


def test_word_and_sentence_counts():
    text = 'Ana paid 3.5 euros. "Fine," he said! Was it? Yes.'
    assert word_count(text) == 10
    assert sentence_count(text) == 4
    assert sentence_count("no terminal punctuation") == 1
    assert sentence_count("   ") == 0


def test_word_set_and_jaccard():
    a, b = word_set("The cat sat."), word_set("the CAT stood")
    assert a == {"the", "cat", "sat"}
    assert jaccard(a, b) == pytest.approx(2 / 4)
    assert jaccard([], []) == 1.0


def test_shingles_short_text():
    assert word_shingles("one two", 5) == {("one", "two")}
    assert len(word_shingles("a b c d e f", 5)) == 2


def test_character_names_ignore_dictionary_words():
    names = character_names("Osei met Doctor Kwabena on Monday. The nurse greeted Osei's son. "
                            "Her bag was by the door.")
    assert names == {"Osei", "Kwabena"}


@pytest.mark.parametrize("item_id,split,emotion,link,source", [
    ("C-anger-d1-1", "clinical", "anger", "N-anger-d1-1", None),
    ("N-anger-d1-1", "neutral", "neutral", "C-anger-d1-1", None),
    ("M-joy-d3-2", "moderate", "joy", None, "C-joy-d3-2"),
    ("K-trust-d6-2", "keyword_rich", "trust", None, "C-trust-d6-2"),
])
def test_derived_fields(item_id, split, emotion, link, source):
    d = derived_fields(item_id)
    assert (d["split"], d["emotion"], d["matched_control_id"], d["source_id"]) == (
        split, emotion, link, source)
    assert d["has_keywords"] is (split == "keyword_rich")


def test_complex_neutral_id():
    p = parse_id("X-glass_blowing-07")
    assert p.split == "complex_neutral" and p.theme == "glass_blowing" and p.n == 7
    d = derived_fields("X-glass_blowing-07")
    assert d["emotion"] == "neutral" and d["domain"] is None and d["source_emotion"] is None


@pytest.mark.parametrize("bad", ["C-rage-d1-1", "C-anger-1-1", "Q-anger-d1-1", "X-Theme-1",
                                 "c-anger-d1-1", ""])
def test_bad_ids(bad):
    with pytest.raises(BadId, match=r"expected e\.g\."):
        parse_id(bad)
    assert parse_id("C-anger-d1-1").scenario == parse_id("K-anger-d1-1").scenario
