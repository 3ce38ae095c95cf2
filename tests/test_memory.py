"""The speed and memory changes of the analyses keep their numbers: replaying the clean blocks
before an edit gives the same knockout and steering logits as recomputing them, a replay never
outlives its block or runs on another batch, and single passes ask for no KV cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from affect_battery.analyses.capture import record_prefix
from affect_battery.analyses.hooks import find_blocks, record_blocks, replay_blocks
from affect_battery.analyses.inputs import final_only_kwargs, tokenize
from affect_battery.analyses.knockout import ablated_run, site_means
from affect_battery.analyses.prompts import build_prompt
from affect_battery.analyses.steering import steered_logits
from affect_battery.errors import ArchitectureError, UsageError

from .tiny_models import tiny_loaded

TEXTS = ["the letter was on the table", "she had a phone in the car and the box was at the door",
         "water", "they were in the house with the dog", "the car was at the house",
         "he had a letter from the garden"]
LABELS = [5, 6, 7]


def _prompts():
    return [build_prompt(t, "raw") for t in TEXTS]


@pytest.mark.parametrize("arch", ["llama", "gpt2", "bert"])
def test_replaying_every_block_reproduces_the_clean_output(arch):
    loaded = tiny_loaded(arch, padding_side="left")
    model = loaded.model
    enc = tokenize(loaded.tokenizer, _prompts(), "cpu", model)
    n = len(find_blocks(model))
    with record_blocks(model, range(n)) as rec, torch.inference_mode():
        clean = model(**enc.batch)
    with replay_blocks(model, dict(rec)), torch.inference_mode():
        replayed = model(**enc.batch)
    key = "logits" if arch != "bert" else "last_hidden_state"
    np.testing.assert_allclose(replayed[key].numpy(), clean[key].numpy(), rtol=0, atol=1e-6)
    # the blocks run their own forward again afterwards
    assert all("forward" not in block.__dict__ for block in find_blocks(model))


def test_a_replay_on_another_batch_raises_and_is_undone():
    loaded = tiny_loaded("llama", padding_side="left")
    model = loaded.model
    prefix = record_prefix(loaded, _prompts(), [0], batch_size=4)
    other = tokenize(loaded.tokenizer, _prompts()[4:], "cpu", model)  # 2 rows, not 4
    with pytest.raises(ArchitectureError, match="same batch"), replay_blocks(model, prefix[0]), \
            torch.inference_mode():
        model(**other.batch)
    assert "forward" not in find_blocks(model)[0].__dict__
    with torch.inference_mode():
        model(**other.batch)  # the real block runs again


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("site", [("attn", 0), ("mlp", 1), ("attn", 1)])
def test_knockout_with_a_replayed_prefix_equals_the_full_recompute(arch, site):
    loaded = tiny_loaded(arch)
    prompts = _prompts()
    mean = site_means(loaded, prompts, [site])[site]
    prefix = record_prefix(loaded, prompts, range(2), batch_size=4)  # 2 batches: 4 + 2
    readout = ("resid", 1)
    for method in ("zero", "mean", "resample"):
        full = ablated_run(loaded, prompts, site, method, LABELS, readout, mean, 4, seed=3)
        fast = ablated_run(loaded, prompts, site, method, LABELS, readout, mean, 4, seed=3,
                           prefix=prefix)
        np.testing.assert_allclose(fast[0], full[0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(fast[1], full[1], rtol=0, atol=1e-6)
    with pytest.raises(UsageError, match="batches"):
        ablated_run(loaded, prompts, site, "zero", LABELS, batch_size=2, prefix=prefix)


@pytest.mark.parametrize("layer", [0, 1])
def test_steering_with_a_replayed_prefix_equals_the_full_recompute(layer):
    loaded = tiny_loaded("llama")
    prompts = _prompts()
    vec = np.random.default_rng(0).normal(size=64).astype(np.float32)
    prefix = record_prefix(loaded, prompts, range(2), batch_size=4)
    for strength in (0.0, 2.0):
        full = steered_logits(loaded, prompts, layer, vec, strength, LABELS, 4)
        fast = steered_logits(loaded, prompts, layer, vec, strength, LABELS, 4, prefix)
        np.testing.assert_allclose(fast, full, rtol=0, atol=1e-6)
    # the replayed outputs were not edited in place: a second replay still gives the baseline
    again = steered_logits(loaded, prompts, layer, vec, 0.0, LABELS, 4, prefix)
    np.testing.assert_allclose(again, steered_logits(loaded, prompts, layer, vec, 0.0, LABELS, 4),
                               rtol=0, atol=1e-6)


def test_single_passes_ask_for_no_kv_cache_and_one_logit_position():
    causal = tiny_loaded("llama").model
    assert final_only_kwargs(causal) == {"use_cache": False, "logits_to_keep": 1}
    assert "logits_to_keep" not in final_only_kwargs(tiny_loaded("bert").model)


# ---- the shared two-shot opening run once per batch ------------------------------------------

def _two_shot():
    return [build_prompt(t, "two_shot") for t in TEXTS]


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("site", [("attn", 0), ("mlp", 1)])
def test_knockout_on_clean_tails_equals_whole_prompts(arch, site):
    """Zero and mean ablation on the shared opening once plus each tail give the logits and
    read-outs of whole left-padded prompts; resample leaves the identical opening alone."""
    from affect_battery.analyses.shared_prefix import CleanTails, record_clean_tails

    loaded = tiny_loaded(arch)
    prompts = _two_shot()
    mean = site_means(loaded, prompts, [site])[site]
    tails = record_clean_tails(loaded, prompts, range(2), batch_size=4)
    assert isinstance(tails, CleanTails) and [len(b) for b in tails.batches] == [4, 2]
    readout = ("resid", 1)
    for method in ("zero", "mean"):
        full = ablated_run(loaded, prompts, site, method, LABELS, readout, mean, 4)
        fast = ablated_run(loaded, prompts, site, method, LABELS, readout, mean, 4,
                           prefix=tails)
        np.testing.assert_allclose(fast[0], full[0], atol=1e-4)
        np.testing.assert_allclose(fast[1], full[1], atol=1e-4)
    a = ablated_run(loaded, prompts, site, "resample", LABELS, readout, mean, 4, seed=3,
                    prefix=tails)
    b = ablated_run(loaded, prompts, site, "resample", LABELS, readout, mean, 4, seed=3,
                    prefix=tails)
    np.testing.assert_array_equal(a[0], b[0])  # seeded: the same permutations
    zeroed = ablated_run(loaded, prompts, site, "zero", LABELS, readout, np.zeros(64), 4,
                        prefix=tails)
    assert not np.allclose(a[0], zeroed[0])


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("layer", [0, 1])
def test_steering_on_clean_tails_equals_whole_prompts(arch, layer):
    from affect_battery.analyses.shared_prefix import record_clean_tails

    loaded = tiny_loaded(arch)
    prompts = _two_shot()
    vec = np.random.default_rng(0).normal(size=64).astype(np.float32)
    tails = record_clean_tails(loaded, prompts, range(2), batch_size=4)
    for strength in (0.0, 2.0):
        full = steered_logits(loaded, prompts, layer, vec, strength, LABELS, 4)
        fast = steered_logits(loaded, prompts, layer, vec, strength, LABELS, 4, tails)
        np.testing.assert_allclose(fast, full, atol=1e-4)
    assert record_clean_tails(loaded, _prompts(), range(2)) is None  # raw: nothing shared


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_edited_opening_replays_the_clean_blocks_before_the_edit(arch):
    """The opening's cache under an edit of block 0's output (steering), computed with block
    0's clean output (the edit still applies to it) and clean keys and values, equals the
    opening run whole under the edit; an
    edit that leaves the opening alone gets the clean cache, and the recorded cache is never
    changed by a pass."""
    import torch

    from affect_battery.analyses.hooks import trace
    from affect_battery.analyses.shared_prefix import (
        _edited_opening,
        _layer_kv,
        prefix_cache,
        record_clean_tails,
    )

    loaded = tiny_loaded(arch)
    tails = record_clean_tails(loaded, _two_shot(), range(2), batch_size=4)
    before = [t.clone() for k in range(2) for t in _layer_kv(tails.opening_cache, k)]

    def edit():
        return trace(loaded.model, [("resid", 0)], retain=False, edit=lambda _s, h: h + 1.0)
    whole = prefix_cache(loaded.model, tails.split.shared, 4, "cpu", edit)
    replayed = _edited_opening(loaded.model, tails, 4, "cpu", edit, lambda k: k <= 0, True)
    clean = _edited_opening(loaded.model, tails, 4, "cpu", edit, lambda k: k <= 0, False)
    for k in range(2):
        for a, b in zip(_layer_kv(replayed, k), _layer_kv(whole, k), strict=True):
            assert a.shape[0] == 4
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(_layer_kv(replayed, 0)[0], _layer_kv(clean, 0)[0])
    assert not torch.allclose(_layer_kv(replayed, 1)[1], _layer_kv(clean, 1)[1])  # edited
    ablated_run(loaded, _two_shot(), ("mlp", 1), "zero", LABELS, None, None, 4, prefix=tails)
    after = [t for k in range(2) for t in _layer_kv(tails.opening_cache, k)]
    for a, b in zip(before, after, strict=True):
        assert torch.equal(a, b) and a.shape[0] == 1


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("method", ["zero", "mean", "resample"])
def test_knockout_rows_without_logits_stop_at_the_readout(arch, method):
    """Rows whose logits are not wanted stop at the read-out block (and, with nothing to read,
    at the ablated block for resample or not at all for zero and mean); the wanted rows' logits
    and every row's read-out are those of the whole batch run to the end."""
    from affect_battery.analyses.shared_prefix import record_clean_tails

    loaded = tiny_loaded(arch, seed=1)
    prompts = _two_shot()
    tails = record_clean_tails(loaded, prompts, range(2), batch_size=4)
    mean = np.full(64, 0.3, dtype=np.float32)
    wanted = [0, 2, 5]  # rows of both batches ([0..3], [4, 5])
    for site, readout in ((("attn", 0), ("resid", 0)), (("mlp", 0), None),
                          (("attn", 1), None)):
        full = ablated_run(loaded, prompts, site, method, LABELS, readout, mean, 4, seed=2,
                           prefix=tails)
        part = ablated_run(loaded, prompts, site, method, LABELS, readout, mean, 4, seed=2,
                           prefix=tails, logit_rows=wanted)
        np.testing.assert_allclose(part[0][wanted], full[0][wanted], atol=1e-5)
        assert np.isnan(np.delete(part[0], wanted, axis=0)).all()
        if readout is not None:
            np.testing.assert_allclose(part[1], full[1], atol=1e-5)
    whole = ablated_run(loaded, prompts, ("mlp", 1), method, LABELS, None, mean, 4, seed=2,
                        logit_rows=wanted)  # the whole-prompt path marks the same rows
    assert np.isnan(np.delete(whole[0], wanted, axis=0)).all()
    assert not np.isnan(whole[0][wanted]).any()
