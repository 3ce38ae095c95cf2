"""The two-tier lexicon: error terms fail an item, words with a common literal sense only warn.

Why these tests exist: the keyword screen had false negatives ("relief", "raged", "bitterly")
and false positives in other people's keyword-free vignettes ("shaken hands", "a laser beam",
"the console", "satisfaction survey", "nervous system", "against a rock"). The tables below pin
both directions per emotion; the systematic tests check every lemma's real inflections against
offline English word lists, every idiom and rule against its own canonical reading, and the
YAML against its documented format.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
import yaml

from affect_battery.core.constants import EMOTIONS
from affect_battery.errors import InputError
from affect_battery.validators.keyword_screen import (
    KeywordScreenSection,
    keyword_findings,
    keyword_section,
    screen_text,
)
from affect_battery.validators.lexicon import (
    _INFLECT,
    Hit,
    Lexicon,
    context_snippet,
    default_lexicon_path,
    load_lexicon,
    own_emotion_hits,
)


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return load_lexicon()


@pytest.fixture(scope="module")
def raw_yaml() -> dict:
    return yaml.safe_load(default_lexicon_path().read_text(encoding="utf-8"))


def errors(lex: Lexicon, text: str) -> list[Hit]:
    return [h for h in lex.screen(text) if h.tier == "error"]


# ---- what must be caught: (sentence, the emotion an error hit must carry) ---------------------
# The false negatives come first; then, per emotion, inflections, idioms, phrasal verbs
# and review words that a context rule turns into errors.
CAUGHT = [
    # the issue
    ("A wave of relief went through the room.", "general"),
    ("He raged at the clerk for an hour.", "anger"),
    ("I loathe these meetings, she said.", "anger"),
    ("She complained bitterly about the delay.", "anger"),
    ("He was dismayed by the results.", "sadness"),
    ("She freaked out when the lift stopped.", "fear"),
    ("She was at her wits' end with the noise.", "general"),
    ("By Friday he was at his wit's end.", "general"),
    # anger
    ("She was raging about the parking ticket.", "anger"),
    ("He blew up at her over dinner.", "anger"),
    ("She snapped at him when he asked again.", "anger"),
    ("He was hopping mad about the fence.", "anger"),
    ("Her temper flared when the bus left without her.", "anger"),
    ("He lashed out at the referee.", "anger"),
    ("The manager was miffed by the complaint.", "anger"),
    ("He spoke through gritted teeth.", "anger"),
    ("Their enmity went back years.", "anger"),
    ("She bristled at the suggestion.", "anger"),
    ("He scorned the offer.", "anger"),
    ("She sneered at the new menu.", "anger"),
    ("He was absolutely livid.", "anger"),
    ("That kid has a chip on his shoulder.", "anger"),
    ("She had a heated argument with the landlord.", "anger"),
    # fear
    ("He was wary of the dog next door.", "fear"),
    ("A sinister figure waited by the gate.", "fear"),
    ("Her heart was pounding as she opened the letter.", "fear"),
    ("She felt shaken after the near miss.", "fear"),
    ("He looked rattled by the question.", "fear"),
    ("The call left her shaken.", "fear"),
    ("She cried out in alarm.", "fear"),
    ("She trembled at the thought of the exam.", "fear"),
    ("His hands trembled as he signed.", "fear"),
    ("He lost his nerve at the last moment.", "fear"),
    ("She was walking on eggshells around her father.", "fear"),
    ("A chill ran down her spine.", "fear"),
    ("Hysteria spread through the queue.", "fear"),
    ("The cellar gave her the willies.", "fear"),
    ("Her nerves got the better of her.", "fear"),
    ("She was visibly shaken.", "fear"),
    ("He felt so nervous before the talk.", "fear"),
    ("The empty house was eerily quiet.", "fear"),
    # sadness
    ("He wept bitterly at the graveside.", "sadness"),
    ("She hit rock bottom that winter.", "sadness"),
    ("His heart sank when he saw the envelope.", "sadness"),
    ("She was recently bereaved.", "sadness"),
    ("The news tore her apart.", "sadness"),
    ("He looked crushed when they left.", "sadness"),
    ("She felt hurt by his silence.", "sadness"),
    ("He was gutted that the shop had closed.", "sadness"),
    ("She pined for her old village.", "sadness"),
    ("He sat by the window, woebegone.", "sadness"),
    ("Her eyes glistened with tears.", "sadness"),
    ("She felt so sorry for him.", "sadness"),
    ("A sense of loss settled over the house.", "sadness"),
    ("He moped around the flat all day.", "sadness"),
    ("She looked at him pityingly.", "sadness"),
    # disgust
    ("I loathe the smell of fish.", "disgust"),
    ("She looked at the food with disdain.", "disgust"),
    ("He curled his lip at the offer.", "disgust"),
    ("She turned up her nose at the soup.", "disgust"),
    ("A foul smell rose from the drain.", "disgust"),
    ("He felt like throwing up.", "disgust"),
    ("It grossed her out.", "disgust"),
    ("The stall stank of old fish.", "disgust"),
    ("She found the joke deeply offensive.", "disgust"),
    ("He was repelled by the cruelty.", "disgust"),
    ("The squeamish boy looked away.", "disgust"),
    ("He let out a disgusted grunt.", "disgust"),
    # joy
    ("She beamed at her son.", "joy"),
    ("He was beaming with pride.", "joy"),
    ("She smiled with relief.", "general"),
    ("She gave a smile of relief.", "general"),
    ("They burst out laughing.", "joy"),
    ("He laughed out loud at the video.", "joy"),
    ("She was over the moon about the offer.", "joy"),
    ("The children were in high spirits.", "joy"),
    ("The phone call made her day.", "joy"),
    ("She was smitten with the new neighbour.", "joy"),
    ("He prided himself on his garden.", "joy"),
    ("They triumphed in the final.", "joy"),
    ("She felt content for the first time in months.", "joy"),
    ("The crowd roared with laughter.", "joy"),
    ("A broad smile spread across her face.", "joy"),
    ("He was smiling from ear to ear.", "joy"),
    ("She squealed with delight.", "joy"),
    # trust
    ("She was my rock through the divorce.", "trust"),
    ("He was a rock for her family.", "trust"),
    ("She trusted him implicitly.", "trust"),
    ("He looked up to his older brother.", "trust"),
    ("They took her under their wing.", "trust"),
    ("She had every confidence in the team.", "trust"),
    ("She confided in her sister.", "trust"),
    ("She stood in awe of her teacher.", "trust"),
    ("Hats off to the volunteers.", "trust"),
    ("He was in safe hands with her.", "trust"),
    # surprise
    ("She was flummoxed by the instructions.", "surprise"),
    ("His eyebrows shot up.", "surprise"),
    ("The view took her breath away.", "surprise"),
    ("She stared in wonder at the lights.", "surprise"),
    ("Holy cow, the bridge is gone.", "surprise"),
    ("He never saw it coming.", "surprise"),
    ("She was staggered to learn the price.", "surprise"),
    ("The reply left him bemused.", "surprise"),
    ("Her mouth hung open.", "surprise"),
    ("He was mesmerized by the dancers.", "surprise"),
    ("She gasped when the lights came on.", "surprise"),
    # anticipation
    ("She was dying to know the result.", "anticipation"),
    ("He couldn't sit still before the race.", "anticipation"),
    ("She was keen to start.", "anticipation"),
    ("They were fascinated by the machine.", "anticipation"),
    ("He was itching to open the parcel.", "anticipation"),
    ("He was intrigued by the map.", "anticipation"),
    ("Her curiosity got the better of her.", "anticipation"),
    ("She kept her hopes up.", "anticipation"),
    ("He was all pumped up for the match.", "anticipation"),
    ("He watched the clock all afternoon.", "anticipation"),
    # general
    ("Relief washed over him.", "general"),
    ("He felt betrayed by his friend.", "general"),
    ("She felt cheated by the dealer.", "general"),
    ("He broke down in tears.", "general"),
    ("She broke down when she heard.", "general"),
    ("He fell apart after the funeral.", "general"),
    ("Phew, that was close.", "general"),
    ("He blushed when she spoke to him.", "general"),
    ("She was deeply moved by the speech.", "general"),
    ("Her heart skipped a beat.", "general"),
    ("He lost his composure.", "general"),
    ("She felt calm and safe at home.", "general"),
    ("She calmed down after a while.", "general"),
    ("He consoled his sister at the funeral.", "general"),
    ("She comforted him as best she could.", "general"),
    ("He felt a pang of guilt.", "general"),
    ("She was a nervous wreck.", "general"),
    ("He felt like a fool.", "general"),
]


@pytest.mark.parametrize(("text", "emotion"), CAUGHT, ids=[t for t, _ in CAUGHT])
def test_caught_as_error(lex, text, emotion):
    hits = errors(lex, text)
    assert any(emotion in h.emotions for h in hits), lex.screen(text)
    for h in hits:
        assert text[h.start:h.end] == h.matched


# ---- literal uses: never an error; a review warning is fine ---------------------------------
LITERAL = [
    # the issue
    "They had shaken hands at the door.",
    "The laser beam cut through the steel sheet.",
    "She put the cartridge into the console.",
    "She filled in the customer satisfaction survey.",
    "The nervous system carries signals to the brain.",
    "The boat was thrown against a rock.",
    # anger
    "The storm raged all night along the coast.",
    "They crossed the raging river on a rope bridge.",
    "Flared jeans were all the rage that year.",
    "In spite of the rain, the market opened.",
    "She added a bitter almond extract to the batter.",
    "It was bitterly cold on the platform.",
    "The company fought off a hostile takeover bid.",
    "He was charged with aggravated burglary.",
    "The cream irritated the skin on her wrist.",
    "The blacksmith tempered the steel blade.",
    "A heated towel rail hung by the shower.",
    "The engine growled as it climbed the hill.",
    "Stinging nettles grew along the fence.",
    "The mad cow outbreak closed the farm.",
    # fear
    "The bottle should be shaken well before use.",
    "The windows rattled in the wind.",
    "She set the alarm clock for six.",
    "The fire alarm went off during the drill.",
    "The lamp trembled on the table when the train passed.",
    "The engine shuddered to a halt.",
    "She blanched the almonds for the cake.",
    "Quail eggs were on the menu.",
    "The optic nerve was examined.",
    "Surface tension holds the droplet together.",
    "The past tense of the verb is irregular.",
    "The ship sent a distress signal.",
    "The server closed the insecure connection.",
    "Petrified wood lay in the desert.",
    "She balanced the coin on edge.",
    "He held his breath underwater.",
    "The panic button was under the desk.",
    # sadness
    "Sorry for the delay, the train is running late.",
    "He hurt his knee on the stairs.",
    "The building was gutted by fire.",
    "Add crushed ice to the glass.",
    "The defeated army withdrew at dawn.",
    "The tyre was deflated.",
    "They walked into the gloom of the corridor.",
    "She sold the shares at a loss.",
    "A tropical depression moved west.",
    "A weeping willow stood by the pond.",
    "The battle cry echoed across the valley.",
    "He tears the paper into strips.",
    "The blues band played until midnight.",
    "The siren wailed down the street.",
    "He depressed the clutch and changed gear.",
    "The shattered glass lay on the pavement.",
    # disgust
    "The referee called a foul on the striker.",
    "They launched an offensive at dawn.",
    "Magnets repel each other when the poles match.",
    "The gross income for the year rose.",
    "Apply insect repellent before the hike.",
    "The peasants revolted against the king.",
    "The signal was degraded by the storm.",
    "The rotten floorboards gave way.",
    "The gag order was lifted.",
    "He was bound and gagged by the robbers.",
    "Magnetic repulsion pushes the plates apart.",
    # joy
    "A wooden beam supported the roof.",
    "The satellite beamed the images back.",
    "The parts were in perfect condition.",
    "The diamond gave off a brilliant light.",
    "The ferry hugged the coastline on the way north.",
    "Put relish on the hot dog.",
    "The brakes squealed as the bus stopped.",
    "She lit up a cigarette on the balcony.",
    "The box sat on a high shelf.",
    "The roof was blown away by the storm.",
    "Happy hour ends at seven.",
    "The amusement park opened in May.",
    "Radiant heat warmed the floor.",
    "He smiled and handed over the keys.",
    "She laughed and pointed at the map.",
    "A scar ran from ear to ear.",
    "The screen lit up.",
    # trust
    "He took his hat off as he came in.",
    "The trust fund paid for the school.",
    "The confidence interval was wide.",
    "In this respect the two plans differ.",
    "She looked up to see the plane.",
    "He had his back to the wall.",
    "Argon is a noble gas.",
    "The house appreciated in value.",
    "She can count on one hand the times he called.",
    "The chapter devoted to taxes is long.",
    "Her loyalty card had ten stamps.",
    # surprise
    "The staggered start times reduce crowding.",
    "He staggered to the door after the long shift.",
    "A gaping hole opened in the road.",
    "She gasped for air after the swim.",
    "The stun gun was locked away.",
    "The shock absorbers were replaced.",
    "I wonder if the bus is late.",
    "She marked the box as a surprise party gift.",
    # anticipation
    "The expectant mother sat down.",
    "He has a keen eye for detail.",
    "They pumped water out of the cellar.",
    "She wound up in hospital after the fall.",
    "Itching powder was sold at the joke shop.",
    "He was breathless after the climb.",
    "A red alert was issued for the coast.",
    "The label was glued to the box.",
    "The sentry kept watch over the gate.",
    "On guard duty, he walked the wall.",
    # general
    "She felt the wall for the switch.",
    "He wore a felt hat.",
    "The sea was calm that morning.",
    "The car broke down on the motorway.",
    "The old chair fell apart.",
    "Feel free to call.",
    "He stressed the importance of safety.",
    "The discomfort in her knee eased.",
    "The meat was tender.",
    "The bored holes were sealed.",
    "He was found guilty of theft.",
    "An upset stomach kept her at home.",
    "Mood lighting filled the bar.",
    "The trauma ward was busy.",
    "Traumatic brain injury was ruled out.",
    "The wind slammed the door.",
    "Her eyes stung from the smoke.",
    "He rubbed his eyes and yawned.",
    "He winced in pain as the nurse cleaned the cut.",
    "Excited electrons emit light.",
    "She was granted compassionate leave.",
    "The total weight lifted was 200 kg.",
    "She was just shy of the record.",
    "The words were printed in relief on the card.",
    "He had a sore throat and took pain relief.",
    "The relief valve opened.",
    "She relieved the night nurse at six.",
]


@pytest.mark.parametrize("text", LITERAL)
def test_literal_use_is_not_an_error(lex, text):
    assert errors(lex, text) == [], lex.screen(text)


# ---- review tier: warnings with their context ---------------------------------------------
@pytest.mark.parametrize(("text", "term"), [
    ("She put the cartridge into the console.", "console"),
    ("He smiled and handed over the keys.", "smile"),
    ("She felt the wall for the switch.", "felt"),
    ("The boat drifted towards a rock in the bay.", "a rock"),
    ("A beam fell across the path.", "beam"),
    ("The satisfaction of the crowd was obvious.", "satisfaction"),
])
def test_review_hit_carries_context_and_note(lex, text, term):
    hits = lex.screen(text)
    review = [h for h in hits if h.tier == "review"]
    assert review and not [h for h in hits if h.tier == "error"], hits
    h = review[0]
    assert h.term == term
    assert f"[[{h.matched}]]" in h.context
    assert h.note  # the literal sense the reviewer rules out


def test_context_snippet_is_short_and_safe():
    text = "word " * 40 + "the beam\u200b fell " + "word " * 40
    start = text.index("beam")
    snip = context_snippet(text, start, start + 4)
    assert snip.startswith("...") and snip.endswith("...") and "[[beam]]" in snip
    assert len(snip) < 130 and snip.isprintable() and "\\u200b" in snip


def test_error_tier_wins_over_review_for_the_same_form(lex):
    # "bitter" is review (a bitter taste); "bitterly" and "bitterness" are errors
    assert [h.tier for h in lex.screen("The bitter coffee.")] == []  # literal rule
    assert [h.tier for h in lex.screen("It was bitter.")] == ["review"]
    assert [h.tier for h in lex.screen("She spoke bitterly.")] == ["error"]
    assert [h.tier for h in lex.screen("Her bitterness grew.")] == ["error"]


# ---- context rules ------------------------------------------------------------------------
def test_promotion_spans_the_context_and_absorbs_inner_hits(lex):
    hits = lex.screen("She felt so nervous.")
    assert [(h.matched, h.tier, h.emotions) for h in hits] == [
        ("felt so nervous", "error", ("fear",))]
    assert hits[0].rule.startswith("[feel/")
    hits = lex.screen("a smile of relief")
    assert [(h.matched, h.tier) for h in hits] == [("smile of relief", "error")]


def test_literal_rule_drops_hit_and_review_rule_demotes(lex):
    assert lex.screen("the nervous system") == []
    (h,) = lex.screen("They watched a horror film.")
    assert h.tier == "review" and h.rule.startswith("[horror")


def test_names_are_reviewed_inside_a_sentence_only(lex):
    hits = lex.screen("She handed the keys to Hope. Hope filled the room.")
    assert [(h.matched, h.tier) for h in hits] == [("Hope", "review"), ("Hope", "error")]
    assert lex.screen("She handed the keys to Hope.")[0].rule == "names"


def test_one_finding_per_phrase(lex):
    # "freaked" inside "freaked out" is the same evidence: reported once
    assert [h.matched for h in lex.screen("She freaked out.")] == ["freaked out"]
    # a review word inside an error phrase says nothing new
    assert [h.tier for h in lex.screen("She felt relief.")] == ["error"]


def _canonical(pattern: str, pick: dict[str, str]) -> tuple[str, int]:
    """A pattern's plainest reading (first alternatives, optional words left out) and the
    index of its target word."""
    words, target = [], 0
    for w in pattern.split():
        if w.endswith("?") and len(w) > 1:
            continue
        if w.startswith("[") and w.endswith("]"):
            target, w = len(words), w[1:-1]
        first = w.split("/")[0]
        words.append(pick.get(first, first))
    return " ".join(words), target


PICK = {"{pron}": "her", "{pron}self": "herself", "{obj}": "her", "{subj}": "she",
        "{deg}": "so", "{any}": "thing", "{error}": "furious", "{hit}": "furious",
        "{review}": "shaken"}


def _all_idioms(raw_yaml: dict) -> list[tuple[str, str, str]]:
    out = []
    for cat, secs in raw_yaml.items():
        if cat == "rules":
            continue
        out += [(cat, "error", str(t)) for t in secs.get("idiom") or []]
        out += [(cat, "review", str(t)) for t in (secs.get("review") or {}).get("idiom") or []]
    return out


def test_every_idiom_matches_its_own_canonical_reading(lex, raw_yaml):
    """The curated idiom list is checked entry by entry: each one fires, at its tier."""
    failures = []
    for cat, tier, idiom in _all_idioms(raw_yaml):
        text, _ = _canonical(idiom, PICK)
        hits = lex.screen(text)
        want = [h for h in hits if (cat in h.emotions or h.tier == "error")]
        if tier == "error" and not [h for h in want if h.tier == "error"]:
            failures.append((cat, idiom, text, hits))
        if tier == "review" and not hits:
            failures.append((cat, idiom, text, hits))
    assert not failures, failures[:10]


def test_every_literal_rule_drops_its_target(lex, raw_yaml):
    failures = []
    for rule in raw_yaml["rules"]["literal"]:
        text, target = _canonical(rule, PICK)
        start = len(" ".join(text.split()[:target])) + (1 if target else 0)
        if any(h.start == start for h in lex.screen(text)):
            failures.append((rule, text))
    assert not failures, failures[:10]


def test_every_promote_rule_yields_an_error(lex, raw_yaml):
    failures = []
    for rule in raw_yaml["rules"]["promote"]:
        text, _ = _canonical(rule, PICK)
        if not [h for h in lex.screen(text) if h.tier == "error"]:
            failures.append((rule, text, lex.screen(text)))
    assert not failures, failures[:10]


# ---- the YAML itself ----------------------------------------------------------------------
def test_yaml_header_documents_the_format():
    header = "".join(line for line in default_lexicon_path().read_text(encoding="utf-8")
                     .splitlines(keepends=True) if line.startswith("#"))
    for word in ("review:", "rules:", "literal:", "promote:", "names:", "{obj}", "{subj}",
                 "{deg}", "{error}", "{hit}", "{review}", "[target]", "never remove"):
        assert word in header, word


def test_no_lemma_is_in_both_tiers_of_one_category(raw_yaml):
    """Moving a word to review means removing it from the error lists (error would win)."""
    clash = []
    for cat, secs in raw_yaml.items():
        if cat == "rules":
            continue
        err = {str(t) for k, ts in secs.items() if k != "review" for t in ts or []}
        rev = {str(t) for ts in (secs.get("review") or {}).values() for t in ts or []}
        clash += [(cat, t) for t in err & rev]
    assert not clash, clash


def test_review_tier_exists_for_every_emotion_and_lexicon_sizes(lex, raw_yaml):
    assert lex.surface_forms() >= 3000 and lex.review_forms() >= 300
    by_cat = lex.forms_by_category()
    for emo in EMOTIONS:
        assert by_cat[emo] >= 200, emo
        assert raw_yaml[emo].get("review"), emo


def test_user_lexicon_with_review_and_rules(tmp_path: Path):
    path = tmp_path / "lex.yaml"
    path.write_text(
        "joy:\n  adj: [glad]\n  review:\n    verb:\n      beam: a beam of light\n"
        "rules:\n  literal: ['laser [beam]']\n  promote: ['{subj} [beamed]']\n"
        "  names: [glad]\n", encoding="utf-8")
    custom = load_lexicon(path)
    assert custom.screen("a laser beam") == []
    assert [(h.matched, h.tier) for h in custom.screen("She beamed. A beam fell.")] == [
        ("She beamed", "error"), ("beam", "review")]
    assert custom.screen("A beam fell.")[0].note == "a beam of light"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  promote: ['felt nervous']\n", encoding="utf-8")
    with pytest.raises(InputError, match="exactly one word"):
        load_lexicon(bad)
    bad.write_text("rules:\n  sometimes: ['[a] b']\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown rule kind"):
        load_lexicon(bad)
    bad.write_text("rules:\n  promote: ['{hit} [felt]']\n", encoding="utf-8")
    with pytest.raises(InputError, match="only follow the target"):
        load_lexicon(bad)
    bad.write_text("joy:\n  review:\n    adverb: [x]\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown section"):
        load_lexicon(bad)


# ---- systematic coverage: every lemma's real inflections and derivations -----------------
def _corpus_words() -> set[str]:
    """Corpus-attested English words shipped offline with textblob (a dependency of nrclex):
    Brill's tagger lexicon (Brown corpus, Penn Treebank) and a Gutenberg/BNC spelling list."""
    textblob = pytest.importorskip("textblob")
    folder = Path(textblob.__file__).parent / "en"
    words: set[str] = set()
    for name in ("en-lexicon.txt", "en-spelling.txt"):
        path = folder / name
        if not path.is_file():
            pytest.skip(f"no offline word list {name}")
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith(";"):
                words.add(line.split()[0].lower())
    return words


def _forms_by_lemma() -> dict[str, set[str]]:
    """simplemma's English dictionary inverted: lemma -> its known word forms (offline)."""
    pytest.importorskip("simplemma")
    from simplemma.strategies.dictionaries.dictionary_factory import DefaultDictionaryFactory

    forms: dict[str, set[str]] = defaultdict(set)
    for form, lemma in DefaultDictionaryFactory().get_dictionary("en").items():
        if form.isalpha() and form.islower():
            forms[lemma.lower()].add(form)
    return forms


def _adverb(adj: str) -> str:
    if adj.endswith("le") and not adj.endswith("ile"):
        return adj[:-1] + "y"
    if adj.endswith("ie"):
        return adj[:-2] + "ily"
    if adj.endswith("y") and len(adj) > 3 and adj[-2] not in "aeiou":
        return adj[:-1] + "ily"
    if adj.endswith("ic"):
        return adj + "ally"
    if adj.endswith("ll"):
        return adj + "y"
    return adj + "ly"


# Real words that simplemma relates to a lemma, or that the derivation rules produce, judged
# not to name a feeling (or another sense of the string). Each was looked at; add with care.
NOT_EMOTION = {
    "belligerents", "bitters", "madding", "damning", "hatless", "tempered", "tempering",
    "glaringly", "alerted", "alerting", "alerts", "hopefuls", "fouled", "fouling", "grosses",
    "grossing", "grotesques", "offensives", "repellents", "yukked", "recoilless", "concerning",
    "nerveless", "tensioning", "tensionless", "fonds", "tendered", "tendering", "tenders",
    "unfortunates", "felted", "felts", "blushingly", "guiltless", "loveless", "shameless",
    "shamelessly", "overwhelmingly", "numbingly", "perfected", "perfecting", "jollying",
    "lovelies", "yippies", "huzzahs", "miserables", "remorseless", "remorselessly", "nobles",
    "secured", "securing", "staunchest", "faithless", "wondered", "wondering", "gaspingly",
    "stressing", "menaced", "grudged", "solaced", "shying",
}


def test_inflection_coverage_over_every_lemma(lex, raw_yaml):
    """Every corpus-attested form of every single-word lemma is screened (either tier).

    Catches the class of miss behind "raged" (a noun lemma used as a verb), "bitterly" (an
    adverb whose adjective was not listed) and "dismayed": simplemma gives each lemma's known
    forms (verb forms of nouns included), plus -ly adverbs of adjectives and -ingly/-edly
    adverbs and -ful/-less adjectives of nouns and verbs; a candidate counts only if the
    offline corpus lists attest it, so made-up forms never enter the check.
    """
    words, forms_of = _corpus_words(), _forms_by_lemma()
    missing: dict[str, set[str]] = defaultdict(set)
    for cat, secs in raw_yaml.items():
        if cat == "rules":
            continue
        sections = [(k, v) for k, v in secs.items() if k != "review"]
        sections += list((secs.get("review") or {}).items())
        for kind, terms in sections:
            if kind == "idiom":
                continue
            for term in terms or []:
                lemma = str(term).replace("~", "")
                if not lemma.isalpha():
                    continue
                cands = {f for f in forms_of.get(lemma, ()) if f in words}
                if kind == "adj":
                    cands.add(_adverb(lemma))
                if kind in ("verb", "noun"):
                    cands |= {f + "ly" for f in _INFLECT["verb"](lemma)
                              if f.endswith(("ing", "ed"))}
                    cands |= {lemma + "ful", lemma + "less"}
                for c in cands:
                    if c != lemma and c in words and c not in NOT_EMOTION and not lex.screen(c):
                        missing[f"{cat}.{kind}.{lemma}"].add(c)
    assert not missing, dict(missing)


COLLISION_OK = {"blither"}  # blithe -> blither: a rare verb, harmless


def test_generated_comparatives_do_not_collide_with_other_words(raw_yaml):
    """An -er/-est form generated from an adjective that is a real word must be a form of that
    adjective: "numb" as an adjective generated "number", which fired on 48 shipped items."""
    words, forms_of = _corpus_words(), _forms_by_lemma()
    lemma_of = {f: lemma for lemma, fs in forms_of.items() for f in fs}
    bad = []
    for cat, secs in raw_yaml.items():
        if cat == "rules":
            continue
        sections = [(k, v) for k, v in secs.items() if k != "review"]
        sections += list((secs.get("review") or {}).items())
        for kind, terms in sections:
            if kind != "adj":
                continue
            for term in terms or []:
                closed = str(term).replace("~", "")
                for form in _INFLECT["adj"](closed):
                    if (form.endswith(("er", "est")) and form != closed and form in words
                            and lemma_of.get(form, closed) != closed
                            and form not in COLLISION_OK):
                        bad.append((cat, term, form, lemma_of.get(form)))
    assert not bad, bad


# ---- the keyword screen and the report ----------------------------------------------------
def _frame(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"id": i, "split": s, "emotion": e, "source_emotion": e, "text": t,
                          "_file": "new.jsonl", "_line": n + 1}
                         for n, (i, s, e, t) in enumerate(rows)])


def test_keyword_findings_split_tiers():
    frame = _frame([
        ("C-joy-d1-1", "clinical", "joy", "He stood at the console and smiled. She was elated."),
    ])
    found = keyword_findings(frame)
    codes = sorted((f.code, f.severity) for f in found)
    assert codes == [("keyword", "error"), ("keyword-review", "warning"),
                     ("keyword-review", "warning")]
    review = [f for f in found if f.code == "keyword-review"]
    assert all("[[" in f.details["context"] and f.details["tier"] == "review" for f in review)
    assert all(f.details["context"] in f.message for f in review)
    assert next(f for f in found if f.code == "keyword").details["tier"] == "error"


def test_keyword_rich_counts_only_error_tier_own_terms():
    weak = _frame([("K-joy-d1-1", "keyword_rich", "joy",
                    "She smiled and laughed by the console.")])
    (f,) = keyword_findings(weak)
    assert f.code == "keyword-rich-weak" and "found 0" in f.message
    strong = _frame([("K-joy-d1-1", "keyword_rich", "joy", "She was elated and overjoyed.")])
    assert keyword_findings(strong) == []
    hits = screen_text("She smiled and was elated.")
    assert [h.matched for h in own_emotion_hits(hits, "joy")] == ["elated"]
    assert len(own_emotion_hits(hits, "joy", tier=None)) == 2


def test_keyword_section_counts_tiers_apart():
    frame = _frame([
        ("C-joy-d1-1", "clinical", "joy", "He stood at the console."),
        ("N-joy-d1-1", "neutral", "joy", "He stood by the door."),
        ("K-joy-d1-1", "keyword_rich", "joy", "He was elated and smiled at the console."),
    ])
    ks = keyword_section(frame)
    assert ks.items_with_hits_by_split == {"clinical": 0, "neutral": 0, "keyword_rich": 1}
    assert ks.items_with_review_hits_by_split == {"clinical": 1, "neutral": 0,
                                                  "keyword_rich": 1}
    assert ks.review_hits_by_term == {"console": 1}  # keyword_rich is not counted
    assert list(frame["lexicon_review_hits"]) == [1, 0, 2]
    assert ks.lexicon_review_forms > 0
    again = KeywordScreenSection.from_dict(ks.to_dict())
    assert again == ks
    old = KeywordScreenSection.from_dict({"lexicon_surface_forms": 10,
                                          "items_with_hits_by_split": {"clinical": 0}})
    assert old.items_with_review_hits_by_split == {} and old.lexicon_review_forms == 0


def test_report_renderers_show_the_review_tier():
    from affect_battery.validators.report.markdown import keyword_markdown

    ks = KeywordScreenSection(lexicon_surface_forms=100, items_with_hits_by_split={"clinical": 0},
                              lexicon_review_forms=20,
                              items_with_review_hits_by_split={"clinical": 2},
                              review_hits_by_term={"console": 2})
    text = "\n".join(keyword_markdown(ks))
    assert "100 surface forms" in text and "20" in text and "console 2" in text
    assert "review" in text.lower()


def test_tokens_with_apostrophes_and_gaps(lex):
    assert [h.matched for h in lex.screen("At her wits\u2019 end, she sat.")] == [
        "At her wits\u2019 end"]
    assert [h.matched for h in lex.screen("at his wits end")] == ["at his wits end"]


@pytest.mark.parametrize(("sentence", "tier"), [
    ("She rolled her eyes at the offer.", "error"),
    ("Her stomach dropped when she read the letter.", "error"),
    ("He was heartened by the call.", "error"),
    ("The kettle shrieked on the stove.", "review"),
])
def test_lead_review_additions(sentence, tier):
    """Found in a spot check after the two-tier rework: eye-rolling and a dropping stomach
    name reactions; "shriek" has a common literal sense (a kettle, brakes)."""
    hits = screen_text(sentence)
    assert hits and {h.tier for h in hits} == {tier}, hits
