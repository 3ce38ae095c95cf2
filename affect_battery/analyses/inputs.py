"""How prompts become model inputs, and how the final token's answer logits are read back.

Shared by every method that runs the model, so all of them tokenise, position and read the
final token the same way. Padding is handled through the attention mask and explicit position
ids, so left and right padding give the same activations.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .prompts import Prompt

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase


@dataclass
class Encoded:
    """A tokenised batch (on the model's device) and, for fast tokenizers, character offsets
    (on the CPU) that locate the stimulus's tokens."""

    batch: dict[str, torch.Tensor]
    offsets: torch.Tensor | None

    @property
    def mask(self) -> torch.Tensor:
        return self.batch["attention_mask"]


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def accepts_position_ids(model: torch.nn.Module) -> bool:
    return "position_ids" in inspect.signature(model.forward).parameters


def final_only_kwargs(model: torch.nn.Module) -> dict[str, int | bool]:
    """Ask a causal LM for last-position logits only (a 49k-vocabulary head over every position
    costs hundreds of MB per batch), and for no KV cache (a single pass never reads it, and it
    holds keys and values of every layer and position: ~200 MB per batch of 16 SmolLM2
    prompts). Callers left-pad, so the last position is the final token.
    """
    params = inspect.signature(model.forward).parameters
    out: dict[str, int | bool] = {"use_cache": False} if "use_cache" in params else {}
    if "logits_to_keep" in params:
        out["logits_to_keep"] = 1
    elif "num_logits_to_keep" in params:
        out["num_logits_to_keep"] = 1
    return out


def tokenize(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Prompt],
             device: torch.device | str, model: torch.nn.Module | None = None) -> Encoded:
    """Tokenise a batch; position ids follow the attention mask, so left padding (whose pads
    come first) does not shift absolute position embeddings such as GPT-2's."""
    enc = tokenizer([p.text for p in prompts], padding=True, return_tensors="pt",
                    return_offsets_mapping=bool(getattr(tokenizer, "is_fast", False)))
    offsets = enc.pop("offset_mapping", None)
    batch = {k: v.to(device) for k, v in enc.items()}
    if model is not None and accepts_position_ids(model):
        mask = batch["attention_mask"]
        batch["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
    return Encoded(batch, offsets)


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last attended token per row (works for left and right padding)."""
    import torch

    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    return (positions * mask).argmax(dim=1)


def stimulus_mask(offsets: torch.Tensor, attention: torch.Tensor, prompts: Sequence[Prompt]
                  ) -> torch.Tensor:
    """Tokens whose character span overlaps the stimulus span of their prompt."""
    import torch

    starts = torch.tensor([p.stimulus_start for p in prompts]).unsqueeze(1)
    ends = torch.tensor([p.stimulus_end for p in prompts]).unsqueeze(1)
    tok_start, tok_end = offsets[..., 0], offsets[..., 1]
    inside = (tok_end > starts) & (tok_start < ends) & (tok_end > tok_start)
    return inside & attention.bool().cpu()


def final_logits(output: Any, label_ids: Sequence[int]) -> np.ndarray:
    """The answer labels' logits at the last position of a left-padded batch's output."""
    return output.logits[:, -1][:, list(label_ids)].float().cpu().numpy()


def label_forward(model: torch.nn.Module, enc: Encoded, label_ids: Sequence[int]
                  ) -> np.ndarray:
    """One inference pass over a left-padded batch: the answer labels' final-token logits."""
    import torch

    with torch.inference_mode():
        output = model(**enc.batch, **final_only_kwargs(model))
    return final_logits(output, label_ids)
