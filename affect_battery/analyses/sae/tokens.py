"""Token-level activations at one site: what an SAE is trained on and read token by token.

The suite's capture pools each prompt to one row; an SAE's dictionary and its top-activating
tokens need every token. Rows are kept only for the tokens asked for (the stimulus span, or
every token but the first: the first position of a causal model is an attention sink whose
norm is far off the rest and would dominate a reconstruction loss), and the forward pass
stops at the site's block (a later block cannot change it), so a middle layer costs half a
pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..hooks import Site, padding_side, trace
from ..inputs import last_token_index, model_device, stimulus_mask, tokenize
from ..models import LoadedModel
from ..prompts import Prompt

if TYPE_CHECKING:
    import torch


class _Stop(Exception):
    """Raised from the hook once the site's output is kept: the rest of the pass is waste."""


@dataclass
class TokenActs:
    """One row per kept token: its activation, the prompt it came from, and its text."""

    acts: np.ndarray  # [n_tokens, d] float32
    prompt: np.ndarray  # [n_tokens] index into the prompts given
    text: list[str]  # the token's characters in the prompt (stripped)
    word: list[str]  # the whole word the token is part of (lower case; the token if none)


def _keep_mask(enc_mask: torch.Tensor, offsets: torch.Tensor | None,
               chunk: Sequence[Prompt], stimulus_only: bool, with_final: bool
               ) -> torch.Tensor:
    import torch

    mask = enc_mask.bool().cpu()
    rows = torch.arange(mask.shape[0])
    if stimulus_only and offsets is not None:
        keep = stimulus_mask(offsets, enc_mask, chunk)
        if with_final:
            keep[rows, last_token_index(mask.long())] = True
        return keep
    first = mask.int().argmax(dim=1)  # the first attended position of each row
    keep = mask.clone()
    keep[rows, first] = False
    return keep


def token_activations(loaded: LoadedModel, prompts: Sequence[Prompt], site: Site,
                      batch_size: int = 16, stimulus_only: bool = True,
                      with_final: bool = False) -> TokenActs:
    """The site's output at every kept token of every prompt (see the module docstring):
    the stimulus tokens (and, ``with_final``, the final token), or every token but the
    first."""
    import torch

    model, tok = loaded.model, loaded.tokenizer
    device = model_device(model)
    acts: list[np.ndarray] = []
    which: list[np.ndarray] = []
    texts: list[str] = []
    words: list[str] = []
    causal = loaded.kind == "causal"
    with padding_side(tok, "left") if causal else nullcontext():
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start:start + batch_size]
            enc = tokenize(tok, chunk, device, model)
            keep = _keep_mask(enc.mask, enc.offsets, chunk, stimulus_only, with_final)

            def grab(_site: Site, h: torch.Tensor, keep: torch.Tensor = keep) -> None:
                grab.out = h[keep.to(h.device)].detach().float().cpu().numpy()  # type: ignore
                raise _Stop

            try:
                with trace(model, [site], retain=grab), torch.inference_mode():
                    model(**enc.batch)
            except _Stop:
                pass
            acts.append(grab.out)  # type: ignore[attr-defined]
            rows, cols = keep.nonzero(as_tuple=True)
            which.append(start + rows.numpy())
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                if enc.offsets is not None:
                    a, b = enc.offsets[r, c].tolist()
                    texts.append(chunk[r].text[a:b].strip())
                    words.append(_word(chunk[r].text, a, b) or texts[-1].lower())
                else:
                    texts.append(tok.convert_ids_to_tokens(
                        int(enc.batch["input_ids"][r, c])))
                    words.append(texts[-1].lower())
    d = int(loaded.model.config.hidden_size)
    return TokenActs(np.concatenate(acts) if acts else np.zeros((0, d), np.float32),
                     np.concatenate(which) if which else np.zeros(0, int), texts, words)


def _word(text: str, a: int, b: int) -> str:
    """The letters around the span [a, b) of ``text``: a subword token's whole word."""
    while a < b and not (text[a].isalpha() or text[a] == "'"):  # a leading space or mark
        a += 1
    while b > a and not (text[b - 1].isalpha() or text[b - 1] == "'"):
        b -= 1
    if a == b:
        return ""
    while a > 0 and (text[a - 1].isalpha() or text[a - 1] == "'"):
        a -= 1
    while b < len(text) and (text[b].isalpha() or text[b] == "'"):
        b += 1
    return "".join(ch for ch in text[a:b] if ch.isalpha() or ch == "'").lower()
