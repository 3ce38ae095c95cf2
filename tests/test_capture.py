"""Hook capture against the model's own hidden states, padding invariance, sites, cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from affect_battery.analyses.capture import cached_capture, capture
from affect_battery.analyses.hooks import find_blocks
from affect_battery.analyses.inputs import last_token_index
from affect_battery.analyses.prompts import build_prompt

from .tiny_models import tiny_loaded

TEXTS = ["the letter was on the table", "she had a phone in the car and the box was at the door",
         "water", "they were in the house with the dog"]


def _hidden_states(loaded, prompts):
    tok = loaded.tokenizer
    enc = tok([p.text for p in prompts], padding=True, return_tensors="pt",
              return_special_tokens_mask=True)
    special = enc.pop("special_tokens_mask")
    with torch.inference_mode():
        out = loaded.model(**enc, output_hidden_states=True)
    content = enc["attention_mask"] * (1 - special)  # what "mean over the stimulus" covers
    return out.hidden_states, enc["attention_mask"], content


@pytest.mark.parametrize("arch", ["llama", "gpt2", "bert"])
def test_hook_capture_equals_output_hidden_states(arch):
    loaded = tiny_loaded(arch)
    prompts = [build_prompt(t, "raw") for t in TEXTS]
    n = loaded.n_layers
    res = capture(loaded, prompts, [("resid", i) for i in range(n)], ("final", "mean"),
                  batch_size=3)
    hs, mask, content = _hidden_states(loaded, prompts)
    last = last_token_index(mask)
    rows = torch.arange(len(prompts))
    for layer in range(n):
        ref = hs[layer + 1]
        if layer == n - 1 and arch != "bert":
            # decoders apply the final norm to the last hidden state they return
            norm = loaded.model.model.norm if arch == "llama" else loaded.model.transformer.ln_f
            ours = torch.from_numpy(res.get("resid", layer, "final"))
            np.testing.assert_allclose(norm(ours).detach().numpy(),
                                       ref[rows, last].numpy(), atol=1e-5)
            continue
        np.testing.assert_allclose(res.get("resid", layer, "final"), ref[rows, last].numpy(),
                                   atol=1e-5)
        m = content.unsqueeze(-1).float()
        mean = ((ref * m).sum(1) / m.sum(1)).numpy()
        np.testing.assert_allclose(res.get("resid", layer, "mean"), mean, atol=1e-5)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_padding_side_does_not_change_final_token_activations(arch):
    prompts = [build_prompt(t, "two_shot") for t in TEXTS]
    sites = [(k, i) for k in ("resid", "attn", "mlp") for i in range(2)]
    right = capture(tiny_loaded(arch, padding_side="right"), prompts, sites, ("final", "mean"))
    left = capture(tiny_loaded(arch, padding_side="left"), prompts, sites, ("final", "mean"))
    for key in right.acts:
        np.testing.assert_allclose(right.acts[key], left.acts[key], atol=1e-4, err_msg=str(key))


def test_only_requested_sites_are_kept_and_attn_mlp_shapes():
    loaded = tiny_loaded("llama")
    res = capture(loaded, [build_prompt(t, "raw") for t in TEXTS], [("attn", 1), ("mlp", 0)])
    assert set(res.acts) == {("attn", 1, "final"), ("mlp", 0, "final")}
    assert res.get("attn", 1).shape == (4, 64)
    assert len(find_blocks(loaded.model)) == 2


def test_mean_pools_only_the_stimulus_tokens():
    loaded = tiny_loaded("gpt2")
    a = capture(loaded, [build_prompt("the letter was on the table", "two_shot")],
                [("resid", 0)], ("mean",))
    b = capture(loaded, [build_prompt("the letter was on the table", "raw")],
                [("resid", 0)], ("mean",))
    assert not np.allclose(a.get("resid", 0, "mean"), b.get("resid", 0, "mean"))


def test_cache_round_trip(tmp_path):
    loaded = tiny_loaded("llama")
    prompts = [build_prompt(t, "raw") for t in TEXTS]
    key = {"model": "tiny", "revision": "r", "battery": "b", "preset": "raw", "dtype": "float32"}
    first, hit1 = cached_capture(loaded, prompts, [("resid", 0)], ("final",), key, tmp_path,
                                 keep_logits=[1, 2])
    second, hit2 = cached_capture(loaded, prompts, [("resid", 0)], ("final",), key, tmp_path,
                                  keep_logits=[1, 2])
    assert (hit1, hit2) == (False, True)
    np.testing.assert_array_equal(first.get("resid", 0), second.get("resid", 0))
    np.testing.assert_array_equal(first.final_logits, second.final_logits)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1


# ---- the shared opening run once (KV cache) --------------------------------------------------

SHARED_TEXTS = [*TEXTS, "the letter was in the box", "the dog had water"]  # same first words


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_shared_prefix_capture_equals_full_passes(arch):
    """Two-shot prompts run their common opening once; every site, both poolings and the
    answer logits match full left-padded passes, across an uneven last batch."""
    from affect_battery.analyses.shared_prefix import split_prompts

    loaded = tiny_loaded(arch)
    prompts = [build_prompt(t, "two_shot") for t in SHARED_TEXTS]
    split = split_prompts(loaded.tokenizer, prompts)
    assert split is not None and len(split.shared) > 20  # the instruction and both shots
    head = prompts[0].text[:prompts[0].stimulus_start]
    assert len(split.shared) <= len(loaded.tokenizer(head)["input_ids"])  # stops before
    sites = [(k, i) for k in ("resid", "attn", "mlp") for i in range(2)]
    kw = {"positions": ("final", "mean"), "batch_size": 4, "keep_logits": [3, 5, 7]}
    shared = capture(loaded, prompts, sites, **kw)
    full = capture(loaded, prompts, sites, shared_prefix=False, **kw)
    for key in full.acts:
        np.testing.assert_allclose(shared.acts[key], full.acts[key], atol=1e-4,
                                   err_msg=str(key))
    np.testing.assert_allclose(shared.final_logits, full.final_logits, atol=1e-4)


def test_no_shared_opening_means_full_passes():
    from affect_battery.analyses.shared_prefix import split_prompts

    loaded = tiny_loaded("llama")
    raw = [build_prompt(t, "raw") for t in TEXTS]
    assert split_prompts(loaded.tokenizer, raw) is None
    assert split_prompts(loaded.tokenizer, raw[:1]) is None
