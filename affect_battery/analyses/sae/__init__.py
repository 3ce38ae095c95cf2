"""Sparse-autoencoder feature analysis over the battery's matched pairs.

``topk`` (the SAE in plain torch), ``io`` (the sae-lens folder layout; releases through
sae-lens, the ``sae`` extra), ``tokens`` (token-level activations at one site), ``train`` (the
offline TopK SAE of ``affect-battery sae-train``), ``stats`` (paired latent statistics),
``ablation`` (the causal check) and ``step`` (the ``sae`` method of ``analyze``). Nothing is
imported here, so ``analyses.config`` can read the hook names without the rest.
"""
