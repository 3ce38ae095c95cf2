"""Prompt presets and answer-label tokens.

``two_shot``: an instruction, two fixed example shots (written for this project, not taken from
the battery), then ``Context: {text}\\nAnswer:``; read at the final token. ``raw``: the text
alone. The stimulus's character span is tracked so activations can be pooled over its tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.constants import EMOTIONS
from ..errors import ModelError, UsageError
from .choices import PRESETS, Preset

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

ANSWER_LABELS: tuple[str, ...] = (*EMOTIONS, "none")

INSTRUCTION = ("Read each short story and name the emotion its main character is living through "
               "at the end. Answer with one word: " + ", ".join(ANSWER_LABELS) + ".")
SHOT_1 = ("The storm shelter's door would not close, and the wind that had already torn the barn "
          "roof away was bending the fence posts toward the house where Tomasz sat.")
SHOT_1_ANSWER = "fear"
SHOT_2 = ("Tobiah took the sheets off the line at six, folded them on the kitchen table and "
          "wrote the week's shopping list on the back of an envelope.")
SHOT_2_ANSWER = "none"


@dataclass(frozen=True)
class Prompt:
    text: str
    stimulus_start: int
    stimulus_end: int


def build_prompt(stimulus: str, preset: Preset = "two_shot") -> Prompt:
    if preset == "raw":
        return Prompt(stimulus, 0, len(stimulus))
    if preset != "two_shot":
        raise UsageError(f"unknown prompt preset {preset!r}: use one of {', '.join(PRESETS)}")
    head = (f"{INSTRUCTION}\n\nContext: {SHOT_1}\nAnswer: {SHOT_1_ANSWER}\n\n"
            f"Context: {SHOT_2}\nAnswer: {SHOT_2_ANSWER}\n\nContext: ")
    text = f"{head}{stimulus}\nAnswer:"
    return Prompt(text, len(head), len(head) + len(stimulus))


def label_token_ids(tokenizer: PreTrainedTokenizerBase,
                    labels: tuple[str, ...] = ANSWER_LABELS) -> dict[str, int]:
    """First token of " label" for each answer label; labels must not share a first token.

    A tokenizer that breaks that rule cannot score the answers: a :class:`ModelError`, since
    the user's remedy is another model.
    """
    ids = {}
    for lab in labels:
        toks = tokenizer(" " + lab, add_special_tokens=False)["input_ids"]
        if not toks:
            raise ModelError(f"the tokenizer gives no token for label {lab!r}")
        ids[lab] = int(toks[0])
    if len(set(ids.values())) != len(ids):
        raise ModelError(f"answer labels share first tokens under this tokenizer: {ids}")
    return ids
