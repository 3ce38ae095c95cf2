"""The hook primitive: sites, block discovery, trace() and the padding side, on tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from affect_battery.analyses.hooks import (
    Site,
    find_blocks,
    first_tensor,
    padding_side,
    site_module,
    trace,
    with_first_tensor,
)
from affect_battery.analyses.inputs import tokenize
from affect_battery.analyses.prompts import build_prompt
from affect_battery.errors import ArchitectureError, UsageError

from .tiny_models import tiny_loaded

TEXTS = ["the letter was on the table", "she had a phone in the car and the box was at the door",
         "water", "they were in the house with the dog"]
ARCHS = ("llama", "gpt2", "bert")


def _all_sites(n_layers: int) -> list[Site]:
    return [Site(k, layer) for layer in range(n_layers) for k in ("resid", "attn", "mlp")]


def _hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def _batch(loaded, texts=TEXTS):
    return tokenize(loaded.tokenizer, [build_prompt(t, "raw") for t in texts], "cpu",
                    loaded.model)


# ---- Site ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("site", "text"), [(Site("resid", 3), "blocks.3"),
                                            (Site("attn", 0), "blocks.0.attn"),
                                            (Site("mlp", 12), "blocks.12.mlp")])
def test_site_prints_and_parses_back(site, text):
    assert str(site) == text
    assert Site.parse(text) == site
    assert Site.of(text) == Site.of((site.kind, site.layer)) == Site.of(site) == site
    kind, layer = site
    assert (kind, layer) == (site.kind, site.layer)


def test_site_is_a_frozen_ordered_value():
    a = Site("mlp", np.int64(2))
    assert a.layer == 2 and type(a.layer) is int
    assert {a: 1}[Site("mlp", 2)] == 1
    assert sorted([Site("resid", 1), Site("attn", 5), Site("attn", 1)]) == [
        Site("attn", 1), Site("attn", 5), Site("resid", 1)]
    with pytest.raises(AttributeError):
        a.layer = 3  # type: ignore[misc]


@pytest.mark.parametrize(("kind", "layer", "message"), [
    ("mlps", 1, "unknown site kind 'mlps'"), ("resid", -1, "integer >= 0"),
    ("attn", 1.5, "integer >= 0"), ("attn", True, "integer >= 0"),
    ("attn", "3", "integer >= 0")])
def test_invalid_sites_raise_a_clear_usage_error(kind, layer, message):
    with pytest.raises(UsageError, match=message):
        Site(kind, layer)


@pytest.mark.parametrize("text", ["blocks.3.resid", "block.3", "blocks.-1", "blocks.x.mlp",
                                  "3.mlp", ""])
def test_malformed_site_strings_are_rejected(text):
    with pytest.raises(UsageError, match=r"expected blocks\.N"):
        Site.parse(text)


@pytest.mark.parametrize("value", [("mlp",), ("mlp", 1, 2), 3, None])
def test_values_that_are_not_sites_are_rejected(value):
    with pytest.raises(UsageError, match="not a site"):
        Site.of(value)


# ---- the output convention -------------------------------------------------------------------

def test_first_tensor_and_replacing_it_keep_the_output_shape():
    h, extra = torch.zeros(2), torch.ones(1)
    assert first_tensor((h, extra)) is h and first_tensor(h) is h
    new = torch.full((2,), 3.0)
    out = with_first_tensor((h, extra), new)
    assert isinstance(out, tuple) and out[0] is new and out[1] is extra
    assert with_first_tensor(h, new) is new


# ---- block discovery -------------------------------------------------------------------------

@pytest.mark.parametrize(("arch", "path"), [("llama", "model.layers"), ("gpt2", "transformer.h"),
                                            ("bert", "encoder.layer")])
def test_blocks_are_found_and_can_be_named(arch, path):
    model = tiny_loaded(arch).model
    assert find_blocks(model) is model.get_submodule(path)
    assert find_blocks(model, path) is model.get_submodule(path)


def test_unknown_architectures_raise_architecture_error():
    model = tiny_loaded("llama").model
    with pytest.raises(ArchitectureError, match=r"no module 'model\.blocks'"):
        find_blocks(model, "model.blocks")
    with pytest.raises(ArchitectureError, match="not a list of blocks"):
        find_blocks(model, "model.norm")
    bare = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.raises(ArchitectureError, match="no list of None blocks"):
        find_blocks(bare)
    with pytest.raises(ArchitectureError, match="no attn sublayer"):
        site_module(torch.nn.ModuleList([torch.nn.Linear(2, 2)]), Site("attn", 0))


# ---- trace -----------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHS)
def test_retained_resid_outputs_equal_output_hidden_states(arch):
    loaded = tiny_loaded(arch)
    enc = _batch(loaded)
    n = loaded.n_layers
    sites = [Site("resid", layer) for layer in range(n)]
    with trace(loaded.model, sites) as t, torch.inference_mode():
        hs = loaded.model(**enc.batch, output_hidden_states=True).hidden_states
    mask = enc.mask.bool()
    for layer in range(n):
        ours = t[sites[layer]]
        if layer == n - 1 and arch != "bert":
            # decoders apply the final norm to the last hidden state they return
            norm = loaded.model.model.norm if arch == "llama" else loaded.model.transformer.ln_f
            with torch.inference_mode():
                ours = norm(ours)
        np.testing.assert_allclose(ours[mask].numpy(), hs[layer + 1][mask].numpy(),
                                   atol=1e-5, err_msg=f"{arch} layer {layer}")


@pytest.mark.parametrize("arch", ARCHS)
def test_an_identity_edit_leaves_logits_bit_identical(arch):
    loaded = tiny_loaded(arch)
    enc = _batch(loaded)
    sites = _all_sites(loaded.n_layers)

    def run(**kw) -> np.ndarray:
        with trace(loaded.model, sites, **kw), torch.inference_mode():
            out = loaded.model(**enc.batch)
        return first_tensor(out.to_tuple()).numpy()

    clean = run(retain=False)
    np.testing.assert_array_equal(run(edit=lambda _s, h: h), clean)
    np.testing.assert_array_equal(run(edit=lambda _s, h: h.clone()), clean)  # replaced output
    assert not np.array_equal(run(edit=lambda s, h: h * 0 if s.kind == "mlp" else h), clean)


def test_retain_can_reduce_and_edits_apply_per_site():
    loaded = tiny_loaded("gpt2")
    enc = _batch(loaded)
    with trace(loaded.model, ["blocks.0.mlp", ("resid", 1)], retain=lambda s, h: str(s)) as t, \
            torch.inference_mode():
        loaded.model(**enc.batch)
    assert t.outputs == {Site("mlp", 0): "blocks.0.mlp", Site("resid", 1): "blocks.1"}
    with trace(loaded.model, [Site("resid", 0)], edit=lambda _s, h: torch.zeros_like(h)) as t, \
            torch.inference_mode():
        loaded.model(**enc.batch)
    assert not t["blocks.0"].any()  # what is retained is the edited output


def test_hooks_are_removed_and_padding_restored_when_the_block_raises():
    loaded = tiny_loaded("llama", padding_side="right")
    assert _hook_count(loaded.model) == 0
    with pytest.raises(RuntimeError, match="boom"), \
            padding_side(loaded.tokenizer, "left"), \
            trace(loaded.model, _all_sites(loaded.n_layers), edit=lambda _s, h: h):
        assert _hook_count(loaded.model) == 3 * loaded.n_layers
        assert loaded.tokenizer.padding_side == "left"
        raise RuntimeError("boom")
    assert _hook_count(loaded.model) == 0
    assert loaded.tokenizer.padding_side == "right"


def test_an_exception_inside_a_hook_also_removes_every_hook():
    loaded = tiny_loaded("gpt2")
    enc = _batch(loaded)

    def broken(_s, _h):
        raise ValueError("edit failed")
    with pytest.raises(ValueError, match="edit failed"), \
            trace(loaded.model, _all_sites(loaded.n_layers), edit=broken):
        loaded.model(**enc.batch)
    assert _hook_count(loaded.model) == 0


def test_a_site_beyond_the_model_registers_nothing():
    loaded = tiny_loaded("llama")
    with pytest.raises(UsageError, match=r"site blocks\.5\.mlp: the model has 2 blocks \(0-1\)"), \
            trace(loaded.model, [Site("mlp", 0), Site("mlp", 5)]):
        pass
    assert _hook_count(loaded.model) == 0


def test_padding_side_restores_the_tokenizers_own_side():
    tok = tiny_loaded("gpt2", padding_side="left").tokenizer
    with padding_side(tok, "right") as same:
        assert same is tok and tok.padding_side == "right"
    assert tok.padding_side == "left"
