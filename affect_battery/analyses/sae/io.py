"""SAEs on disk: the sae-lens folder layout, and pretrained SAEs by sae-lens release/id.

A folder holds ``cfg.json`` and ``sae_weights.safetensors``, as sae-lens 6.x writes them
(matched against sae-lens 6.54.12: ``SAE.save_model`` / ``SAE.load_from_disk``; the config is
``SAEConfig.to_dict()``: ``d_in``, ``d_sae``, ``dtype``, ``device``, ``apply_b_dec_to_input``,
``normalize_activations``, ``reshape_activations``, ``architecture``, ``k`` for TopK,
``rescale_acts_by_decoder_norm``, and ``metadata`` with ``hook_name`` and ``model_name``;
sae-lens 5.x kept ``hook_name`` at the top level, which is read too). We read and write that
layout ourselves because sae-lens cannot be installed beside this project's pinned stack (it
brings transformer-lens, wandb and a newer protobuf); a folder written here loads in sae-lens
with ``SAE.load_from_disk``. Weights are safetensors: no pickle is ever read.

A ``RELEASE/ID`` (e.g. ``gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical``) is
fetched through sae-lens itself, imported only then: without the ``sae`` extra that is one
line naming it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._util.atomic import atomic_write_bytes, atomic_write_text
from ..._util.extras import MissingExtra, installed
from ...errors import UsageError
from ..hooks import Site
from .topk import SparseAutoencoder

CFG_FILENAME = "cfg.json"  # sae_lens.constants.SAE_CFG_FILENAME
WEIGHTS_FILENAME = "sae_weights.safetensors"  # sae_lens.constants.SAE_WEIGHTS_FILENAME
SAE_LENS_LAYOUT = "6.54.12"  # the sae-lens version whose layout this module matches
_HOOK = re.compile(r"blocks\.(?P<layer>[0-9]+)\.hook_(?P<kind>resid_post|resid_pre|attn_out|"
                   r"mlp_out)")
_KINDS = {"resid_post": "resid", "attn_out": "attn", "mlp_out": "mlp"}


@dataclass
class LoadedSae:
    """An SAE, the site it reads (``None`` when its config names none we can map) and where
    it came from (for results.json)."""

    sae: SparseAutoencoder
    site: Site | None
    source: str
    hook_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def site_of_hook(hook_name: str) -> Site:
    """Our site for a TransformerLens hook name (``blocks.12.hook_resid_post`` ->
    ``blocks.12``; ``hook_resid_pre`` of block L is the residual after block L-1), or for our
    own site syntax (``blocks.12.mlp``)."""
    m = _HOOK.fullmatch(hook_name.strip())
    if m is None:
        return Site.parse(hook_name)
    layer, kind = int(m["layer"]), m["kind"]
    if kind == "resid_pre":
        if layer == 0:
            raise UsageError(f"SAE hook {hook_name}: the embeddings are not a hooked site; "
                             "use an SAE of a later layer")
        return Site("resid", layer - 1)
    return Site(_KINDS[kind], layer)  # type: ignore[arg-type]


def hook_name_of(site: Site) -> str:
    """The TransformerLens hook name of a site (inverse of :func:`site_of_hook`)."""
    kind = {"resid": "resid_post", "attn": "attn_out", "mlp": "mlp_out"}[site.kind]
    return f"blocks.{site.layer}.hook_{kind}"


def _from_config(cfg: dict[str, Any], state: dict[str, Any], source: str) -> LoadedSae:
    arch = cfg.get("architecture") or ("topk" if "k" in cfg else "standard")
    for key, fine in (("normalize_activations", ("none", None)),
                      ("reshape_activations", ("none", None))):
        if cfg.get(key) not in fine:
            raise UsageError(f"SAE {source}: {key}={cfg.get(key)!r} is not supported "
                             "(only 'none')")
    sae = SparseAutoencoder(state, arch, cfg.get("k"), cfg.get("apply_b_dec_to_input", True),
                            cfg.get("rescale_acts_by_decoder_norm", False))
    meta = dict(cfg.get("metadata") or {})
    hook = meta.get("hook_name") or cfg.get("hook_name")
    if int(cfg.get("d_in", sae.d_in)) != sae.d_in or int(cfg.get("d_sae", sae.d_sae)) != sae.d_sae:
        raise UsageError(f"SAE {source}: cfg.json's d_in/d_sae ({cfg.get('d_in')}, "
                         f"{cfg.get('d_sae')}) differ from the weights' ({sae.d_in}, "
                         f"{sae.d_sae})")
    site = None
    if hook:
        try:
            site = site_of_hook(hook)
        except UsageError:
            site = None  # e.g. hook_z: named by --sae-hook, or refused by the step
    return LoadedSae(sae, site, source, hook, meta)


def load_folder(folder: str | Path) -> LoadedSae:
    """An SAE from a folder in the sae-lens layout."""
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg_path, w_path = folder / CFG_FILENAME, folder / WEIGHTS_FILENAME
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise UsageError(f"--sae {folder}: no {p.name} (a folder in the sae-lens layout "
                             f"has {CFG_FILENAME} and {WEIGHTS_FILENAME})")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--sae {folder}: unreadable {CFG_FILENAME}: {exc}") from None
    if not isinstance(cfg, dict):
        raise UsageError(f"--sae {folder}: {CFG_FILENAME} is not a JSON object")
    try:
        state = load_file(str(w_path))
    except Exception as exc:  # safetensors raises its own error types for a bad header
        raise UsageError(f"--sae {folder}: unreadable {WEIGHTS_FILENAME}: {exc}") from None
    return _from_config(cfg, state, str(folder))


def load_release(spec: str) -> LoadedSae:
    """A pretrained SAE by sae-lens ``RELEASE/ID`` (the id may itself contain slashes)."""
    check_spec(spec)
    release, _, sae_id = spec.partition("/")
    from sae_lens import SAE  # the sae extra: imported only for a release/id

    loaded = SAE.from_pretrained(release, sae_id, device="cpu")
    sae = loaded[0] if isinstance(loaded, tuple) else loaded  # sae-lens < 6 returned a tuple
    cfg = sae.cfg.to_dict()
    return _from_config(cfg, {k: v.detach().cpu() for k, v in sae.state_dict().items()},
                        spec)


def check_spec(spec: str) -> None:
    """Refuse an unusable ``--sae`` before any model is loaded: a file, a name that is
    neither a folder nor RELEASE/ID, or a release without the ``sae`` extra."""
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError("--sae: give a local SAE folder or a sae-lens RELEASE/ID")
    path = Path(spec)
    if path.is_dir():
        return
    if path.exists():
        raise UsageError(f"--sae {spec}: a file, not a folder (give the folder holding "
                         f"{CFG_FILENAME})")
    release, _, sae_id = spec.partition("/")
    if not release or not sae_id:
        raise UsageError(f"--sae {spec!r}: no such folder, and not a sae-lens RELEASE/ID")
    if not installed("sae_lens"):
        raise MissingExtra("sae", ["sae_lens"], f"--sae {spec} (a sae-lens release)")


def load_sae(spec: str) -> LoadedSae:
    """``--sae``: an existing folder in the sae-lens layout, else a sae-lens RELEASE/ID."""
    check_spec(spec)
    return load_folder(spec) if Path(spec).is_dir() else load_release(spec)


def save_sae(folder: str | Path, sae: SparseAutoencoder, site: Site, model_name: str,
             extra_metadata: dict[str, Any] | None = None) -> Path:
    """Write ``sae`` in the sae-lens 6.x folder layout (each file atomically)."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"d_in": sae.d_in, "d_sae": sae.d_sae, "dtype": "float32", "device": "cpu",
           "apply_b_dec_to_input": sae.apply_b_dec_to_input, "normalize_activations": "none",
           "reshape_activations": "none",
           "metadata": {"model_name": model_name, "hook_name": hook_name_of(site),
                        "hook_head_index": None, "prepend_bos": False,
                        **(extra_metadata or {})},
           "architecture": sae.architecture, "rescale_acts_by_decoder_norm": sae.rescale}
    if sae.k is not None:
        cfg["k"] = sae.k
    atomic_write_bytes(folder / WEIGHTS_FILENAME, save(
        {k: v.cpu().float() for k, v in sae.state_dict().items()}))
    atomic_write_text(folder / CFG_FILENAME, json.dumps(cfg, indent=2) + "\n")
    return folder
