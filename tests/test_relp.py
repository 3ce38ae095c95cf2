"""Relevance Patching on tiny models: exact where the patched path is linear, conservative where
the LRP rules promise it, harmless to the model, and in agreement with exact patching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from affect_battery.analyses.capture import capture
from affect_battery.analyses.models import LoadedModel
from affect_battery.analyses.patching import exact_patching, top_k_overlap
from affect_battery.analyses.relp import _functions, attribution, lrp_rules
from affect_battery.errors import UsageError

from .test_patching import LABELS, SRC, TGT, _pairs
from .tiny_models import tiny_loaded, tiny_tokenizer

SITES = [(k, i) for k in ("resid", "attn", "mlp") for i in range(2)]


def _tiny_masked_lm() -> LoadedModel:
    """A 2-layer random BERT with a language-model head, so label logits exist."""
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    tok = tiny_tokenizer()
    cfg = BertConfig(vocab_size=len(tok), hidden_size=64, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=128, max_position_embeddings=256)
    model = BertForMaskedLM(cfg).eval()
    return LoadedModel(model, tok, "tiny-bert-mlm", "in-process", "random", "causal", "cpu",
                       "float32")


def _loaded(arch: str) -> LoadedModel:
    return _tiny_masked_lm() if arch == "bert" else tiny_loaded(arch)


def _source_acts(loaded: LoadedModel, pairs, sites):
    acts = capture(loaded, pairs.sources, sites)
    return {s: acts.get(*s) for s in sites}


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_relp_equals_atp_equals_exact_on_a_linear_path(arch):
    loaded = tiny_loaded(arch)
    # without the final norm the logits are linear in the last MLP's output
    if arch == "llama":
        loaded.model.model.norm = torch.nn.Identity()
    else:
        loaded.model.transformer.ln_f = torch.nn.Identity()
    pairs = _pairs(SRC, TGT)
    site = ("mlp", 1)
    src = _source_acts(loaded, pairs, [site])
    exact = exact_patching(loaded, pairs, [site], src, LABELS).sites[site].effect
    atp = attribution(loaded, pairs, [site], src, LABELS, method="atp")[site]
    relp = attribution(loaded, pairs, [site], src, LABELS, method="relp")[site]
    assert np.abs(exact).max() > 1e-4  # zero effects would make the test vacuous
    np.testing.assert_allclose(atp, exact, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(relp, exact, rtol=1e-4, atol=1e-5)


def _input_relevance(model: torch.nn.Module, ids: torch.Tensor, label: int, rules: bool
                     ) -> tuple[float, float]:
    """(output logit, sum of x . grad over the embedding output) in float64."""
    emb = model.get_input_embeddings()(ids).detach().requires_grad_()
    if rules:
        with lrp_rules(model):
            out = model(inputs_embeds=emb).logits[0, -1, label]
            out.backward()
    else:
        out = model(inputs_embeds=emb).logits[0, -1, label]
        out.backward()
    return out.item(), (emb * emb.grad).sum().item()


def test_relevance_is_conserved_through_a_whole_bias_free_llama():
    # Llama has no biases: every rule (LN, AH, identity, half, LRP-0) conserves x . grad, so
    # the relevance of the input embeddings sums to the logit it explains
    model = tiny_loaded("llama").model.double()
    ids = tiny_tokenizer()(["the letter was on the table by the door"],
                           return_tensors="pt")["input_ids"]
    for label in LABELS:
        out, relevance = _input_relevance(model, ids, label, rules=True)
        # RMSNorm computes in float32 even in a float64 model: conserved to float32 precision
        np.testing.assert_allclose(relevance, out, rtol=1e-5, atol=1e-8)
        out_g, grad_x_input = _input_relevance(model, ids, label, rules=False)
        assert out_g == out  # the rules change no forward value
        assert abs(grad_x_input - out) > 100 * abs(relevance - out)  # the plain gradient does not


def test_relevance_is_conserved_exactly_by_the_gated_mlp_rules():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaMLP

    torch.manual_seed(1)
    mlp = LlamaMLP(LlamaConfig(hidden_size=16, intermediate_size=48, num_attention_heads=2,
                                 num_key_value_heads=2)).double()
    x = torch.randn(3, 5, 16, dtype=torch.float64, requires_grad=True)
    with lrp_rules(mlp) as counts:
        y = mlp(x)
        y.sum().backward()
    assert (counts.gate, counts.activation) == (1, 1)
    np.testing.assert_allclose((x * x.grad).sum().item(), y.sum().item(), rtol=1e-12)
    # the half rule: each factor of act(gate) * up receives half of the product's relevance
    a = mlp.act_fn(mlp.gate_proj(x)).detach().requires_grad_()
    b = mlp.up_proj(x).detach().requires_grad_()
    p = _functions()["half"].apply(a, b)
    p.sum().backward()
    torch.testing.assert_close(a * a.grad, 0.5 * p, rtol=1e-12, atol=0)
    torch.testing.assert_close(b * b.grad, 0.5 * p, rtol=1e-12, atol=0)


def test_norm_rules_hold_the_scale_constant():
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    torch.manual_seed(2)
    ln, rms = torch.nn.LayerNorm(8).double(), LlamaRMSNorm(8).double()
    with torch.no_grad():
        for p in (ln.weight, ln.bias, rms.weight):
            p.normal_()
    x = torch.randn(4, 8, dtype=torch.float64)
    g = torch.randn(4, 8, dtype=torch.float64)
    centred = x - x.mean(-1, keepdim=True)
    expected = {  # the same formulas with the standard deviation / rms detached
        "ln": lambda z: (z - z.mean(-1, keepdim=True))
        * torch.rsqrt(centred.var(-1, unbiased=False, keepdim=True) + ln.eps) * ln.weight,
        "rms": lambda z: z * torch.rsqrt(x.pow(2).mean(-1, keepdim=True)
                                         + rms.variance_epsilon) * rms.weight}
    for name, module in (("ln", ln), ("rms", rms)):
        xr = x.clone().requires_grad_()
        with lrp_rules(module) as counts:
            module(xr).backward(g)
        assert counts.norm == 1
        xe = x.clone().requires_grad_()
        expected[name](xe).backward(g)
        torch.testing.assert_close(xr.grad, xe.grad, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("arch", ["llama", "gpt2", "bert"])
def test_relp_runs_and_restores_the_model(arch):
    loaded = _loaded(arch)
    model = loaded.model
    enc = loaded.tokenizer(TGT, padding=True, return_tensors="pt")
    with torch.no_grad():
        before = model(**enc).logits
    with lrp_rules(model) as counts, torch.no_grad():
        under = model(**enc).logits
    torch.testing.assert_close(under, before, rtol=0, atol=0)  # same process: bit-identical
    assert counts.norm >= 2 * loaded.n_layers and counts.activation >= loaded.n_layers
    assert counts.attention_calls >= loaded.n_layers
    assert counts.gate == (loaded.n_layers if arch == "llama" else 0)
    pairs = _pairs(SRC, TGT)
    src = _source_acts(loaded, pairs, SITES)
    relp = attribution(loaded, pairs, SITES, src, LABELS, method="relp")
    atp = attribution(loaded, pairs, SITES, src, LABELS, method="atp")
    assert set(relp) == set(SITES)
    for site in SITES:
        assert relp[site].shape == (3,) and np.isfinite(relp[site]).all()
    # the rules change the coefficients (not a relabelled AtP)
    assert not np.allclose(relp[("resid", 0)], atp[("resid", 0)])
    with torch.no_grad():
        after = model(**enc).logits
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    for module in model.modules():
        assert "forward" not in module.__dict__, type(module).__name__
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_rules_are_removed_when_the_block_raises():
    model = tiny_loaded("llama").model
    with pytest.raises(RuntimeError, match="boom"), lrp_rules(model):
        assert "forward" in model.model.layers[0].mlp.__dict__
        raise RuntimeError("boom")
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_relp_agrees_with_exact_patching_on_a_tiny_model():
    from scipy.stats import pearsonr

    loaded = tiny_loaded("gpt2")
    pairs = _pairs(SRC, TGT)
    src = _source_acts(loaded, pairs, SITES)
    exact = exact_patching(loaded, pairs, SITES, src, LABELS)
    relp = attribution(loaded, pairs, SITES, src, LABELS, method="relp")
    e = np.concatenate([exact.sites[s].effect for s in SITES])
    r = np.concatenate([relp[s] for s in SITES])
    assert pearsonr(e, r).statistic > 0.8
    overlap = top_k_overlap(exact.sites, relp, k=2)
    assert overlap["all"]["k"] == 2 and overlap["all"]["n_sites"] == len(SITES)
    assert overlap["all"]["overlap"] >= 0.5


def test_top_k_overlap_counts_shared_sites():
    from affect_battery.analyses.patching import SitePatch

    def sp(v: float) -> SitePatch:
        return SitePatch(np.array([v]), np.array([v]), np.array([False]))

    exact = {("mlp", 0): sp(3.0), ("mlp", 1): sp(2.0), ("mlp", 2): sp(1.0), ("attn", 0): sp(0.)}
    attr = {("mlp", 0): np.array([0.0]), ("mlp", 1): np.array([5.0]),
            ("mlp", 2): np.array([4.0]), ("attn", 0): np.array([1.0])}
    out = top_k_overlap(exact, attr, k=2)
    assert out["mlp"] == {"overlap": 0.5, "k": 2, "n_sites": 3}
    assert out["attn"] == {"overlap": 1.0, "k": 1, "n_sites": 1}
    assert out["all"]["overlap"] == 0.5


def test_unknown_method_or_rule_is_a_usage_error_and_rules_can_be_ablated():
    loaded = tiny_loaded("llama")
    with pytest.raises(UsageError, match="unknown attribution method"):
        attribution(loaded, _pairs(SRC, TGT), SITES, {}, LABELS, method="ig")  # type: ignore
    with pytest.raises(UsageError, match="unknown LRP rule"), lrp_rules(loaded.model,
                                                                        rules=("softmax",)):
        pass  # pragma: no cover
    with lrp_rules(loaded.model, rules=("norm",)) as counts:
        pass
    assert (counts.norm, counts.activation, counts.gate, counts.attention_blocks) == (5, 0, 0, 0)


def test_report_and_headline_show_relp_beside_atp():
    from affect_battery.analyses.report import _md_patching
    from affect_battery.analyses.result import headline

    agree = {"mlp": {"pearson": 0.2, "spearman": 0.1, "n": 16}}
    relp_agree = {"mlp": {"pearson": 0.9, "spearman": 0.8, "n": 16}}
    section = {
        "score": "ld", "pair_types": {"within_clinical": {
            "n_pairs": 8, "top_sites": [], "attribution_vs_exact": agree,
            "relp_vs_exact": relp_agree,
            "top_k_overlap": {"mlp": {"k": 2, "n_sites": 2, "atp": 0.5, "relp": 1.0},
                              "all": {"k": 2, "n_sites": 2, "atp": 0.5, "relp": 1.0}}}},
        "attribution_vs_exact_overall": {"pearson": 0.2, "spearman": 0.1, "n": 16},
        "relp_vs_exact_overall": {"pearson": 0.9, "spearman": float("nan"), "n": 16},
        "relp_vs_exact_by_site_kind": relp_agree, "attribution_vs_exact_by_site_kind": agree,
        "wall_time_s": {"exact": 4.0, "attribution": 1.0, "relp": 2.0},
        "attribution_speedup": 4.0, "relp_speedup": 2.0, "relp_rules": "rules"}
    text = "\n".join(_md_patching({"patching": section}))
    assert ("mlp vs exact (n = 16): AtP Pearson 0.200, Spearman 0.100; RelP Pearson 0.900, "
            "Spearman 0.800; top-2 of 2 sites shared with exact: AtP 0.500, RelP 1.000") in text
    assert "RelP 2.0 s (2.0x)" in text and "RelP rules: rules" in text
    h = headline({"patching": section, "timings_s": {}})
    assert h["relp_vs_exact_pearson"] == 0.9 and h["attribution_vs_exact_pearson"] == 0.2


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("method", ["atp", "relp"])
def test_final_token_pass_gives_the_whole_backward_scores(arch, method):
    """Only the final token depends on the patched activations: a KV cache of the rest and a
    backward through the last token alone give the scores of a whole backward pass."""
    loaded = tiny_loaded(arch)
    pairs = _pairs(SRC, TGT)
    src = _source_acts(loaded, pairs, SITES)
    fast = attribution(loaded, pairs, SITES, src, LABELS, batch_size=2, method=method)
    whole = attribution(loaded, pairs, SITES, src, LABELS, batch_size=2, method=method,
                        final_only=False)
    assert max(np.abs(whole[s]).max() for s in SITES) > 1e-4
    for s in SITES:
        np.testing.assert_allclose(fast[s], whole[s], rtol=1e-4, atol=1e-5, err_msg=str(s))
    assert all(p.grad is None for p in loaded.model.parameters())  # no parameter gradients
