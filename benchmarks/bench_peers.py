"""This package's activation capture against the tools users would pick instead, on SmolLM2.

One run, the same batches for every tool (the battery's first ``--items`` clinical prompts, the
two-shot preset, left-padded, ``--batch-size`` at a time), the same sites (residual stream,
attention output and MLP output of all 30 blocks: 90 sites), each pooled at the final token and
as the mean over the stimulus tokens, and the same threads (``--threads``, default 2):

* ``bare``           a plain forward pass (last-position logits only, no KV cache), the unit;
* ``capture``        :func:`affect_battery.analyses.capture.capture`;
* ``hidden_states``  ``output_hidden_states=True`` (residual stream only: it has no attention or
                     MLP outputs, so it covers 30 of the 90 sites);
* ``nnsight``        nnsight 0.8 ``NNsight(model).trace(...)``, pooling inside the trace;
* ``transformer_lens`` TransformerLens 4 ``TransformerBridge.boot_transformers(hf_model=...)``
                     ``run_with_cache(names_filter=<the 90 hook names>)``, pooled afterwards.
                     The bridge forces eager attention on the model it wraps (its hooks read the
                     attention pattern), so its own process also times its own ``bare`` pass.

Every tool runs in its own worker process (TransformerLens edits the model it is given), each
loading the same local model folder (the embedded ``smollm2-135m`` alias: no Hub access). The
driver interleaves the repetitions (rep 1 of every tool, then rep 2, ...) and prints medians as
ratios to the package worker's bare forward, plus the peak memory each pass added
(VmHWM after resetting it through /proc/self/clear_refs). The peers are not runtime
dependencies: they come with ``pip install 'affect-battery[bench]'``; when they live in another
environment (one that sees the same torch and transformers), name its Python with
``--peer-python``. Every worker prints the versions it used.

Run: ``python benchmarks/bench_peers.py [--items 32] [--batch-size 8] [--reps 5]
[--peer-python /tmp/benchvenv/bin/python]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_MODES = ("bare", "capture", "hidden_states")
PEER_MODES = {"nnsight": ("bare", "nnsight"), "transformer_lens": ("bare", "transformer_lens")}


# ---- memory ------------------------------------------------------------------------------------

def _status(field: str) -> int:
    """A /proc/self/status field in MiB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return -1


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the next read is this pass's peak."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


# ---- worker ------------------------------------------------------------------------------------

class Worker:
    """One tool in one process: the model, the batches, and one timed pass per request."""

    def __init__(self, tool: str, items: int, batch_size: int) -> None:
        import torch

        from affect_battery.analyses.hooks import Site, padding_side
        from affect_battery.analyses.inputs import (
            final_only_kwargs,
            last_token_index,
            stimulus_mask,
            tokenize,
        )
        from affect_battery.analyses.models import load_model
        from affect_battery.analyses.prompts import build_prompt
        from affect_battery.core.battery import battery_frame

        self.torch = torch
        self.tool = tool
        self.loaded = load_model("smollm2-135m")
        self.model = self.loaded.model
        frame = battery_frame()
        texts = frame.loc[frame["split"] == "clinical", "text"].head(items).tolist()
        self.prompts = [build_prompt(t) for t in texts]
        self.n_layers = self.loaded.n_layers
        self.sites = [Site(k, layer) for layer in range(self.n_layers)
                      for k in ("resid", "attn", "mlp")]
        self.extra = final_only_kwargs(self.model)
        self.batches = []
        with padding_side(self.loaded.tokenizer, "left"):
            for i in range(0, len(self.prompts), batch_size):
                chunk = self.prompts[i:i + batch_size]
                enc = tokenize(self.loaded.tokenizer, chunk, "cpu", self.model)
                stim = stimulus_mask(enc.offsets, enc.mask, chunk)
                self.batches.append((chunk, enc, last_token_index(enc.mask), stim))
        self.batch_size = batch_size
        self.versions = {"torch": torch.__version__, "threads": torch.get_num_threads()}
        import transformers

        self.versions["transformers"] = transformers.__version__
        if tool == "nnsight":
            import nnsight

            self.versions["nnsight"] = nnsight.__version__
            self.nn = nnsight.NNsight(self.model)
        elif tool == "transformer_lens":
            from importlib.metadata import version

            from transformer_lens.model_bridge import TransformerBridge

            self.versions["transformer_lens"] = version("transformer-lens")
            self.bridge = TransformerBridge.boot_transformers(
                "HuggingFaceTB/SmolLM2-135M-Instruct", hf_model=self.model,
                tokenizer=self.loaded.tokenizer)
            self.names = [f"blocks.{i}.{h}" for i in range(self.n_layers)
                          for h in ("hook_resid_post", "hook_attn_out", "hook_mlp_out")]
        self.versions["attn_implementation"] = self.model.config._attn_implementation

    # every mode returns {(kind, layer, position): [n, hidden] array}; bare returns {}
    def _pool(self, h: Any, last: Any, stim: Any) -> tuple[Any, Any]:
        torch = self.torch
        fin = h[torch.arange(h.shape[0]), last].float()
        m = stim.unsqueeze(-1).to(h.dtype)
        return fin, ((h * m).sum(1) / m.sum(1).clamp(min=1)).float()

    def run(self, mode: str) -> dict[tuple[str, int, str], Any]:
        torch = self.torch
        if mode == "capture":
            from affect_battery.analyses.capture import capture

            res = capture(self.loaded, self.prompts, self.sites, ("final", "mean"),
                          self.batch_size, shared_prefix=False)  # the peers' whole prompts
            return res.acts
        out: dict[tuple[str, int, str], list[Any]] = {}

        def keep(kind: str, layer: int, fin: Any, mean: Any) -> None:
            out.setdefault((kind, layer, "final"), []).append(fin)
            out.setdefault((kind, layer, "mean"), []).append(mean)
        for _chunk, enc, last, stim in self.batches:
            if mode == "bare":
                with torch.inference_mode():
                    self.model(**enc.batch, **self.extra)
            elif mode == "hidden_states":
                with torch.inference_mode():
                    hs = self.model(**enc.batch, **self.extra, output_hidden_states=True
                                    ).hidden_states
                    for layer in range(self.n_layers):  # hs[0] is the embeddings
                        keep("resid", layer, *self._pool(hs[layer + 1], last, stim))
            elif mode == "nnsight":
                self._nnsight_batch(enc, last, stim, keep)
            elif mode == "transformer_lens":
                with torch.inference_mode():
                    _, cache = self.bridge.run_with_cache(
                        enc.batch["input_ids"], attention_mask=enc.batch["attention_mask"],
                        position_ids=enc.batch["position_ids"], names_filter=self.names,
                        return_type=None)
                    for layer in range(self.n_layers):
                        for kind, hook in (("resid", "hook_resid_post"), ("attn", "hook_attn_out"),
                                           ("mlp", "hook_mlp_out")):
                            keep(kind, layer, *self._pool(cache[f"blocks.{layer}.{hook}"],
                                                          last, stim))
                    del cache
            else:
                raise ValueError(mode)
        return {k: torch.cat(v).numpy() for k, v in out.items()}

    def _nnsight_batch(self, enc: Any, last: Any, stim: Any, keep: Any) -> None:
        torch = self.torch
        rows = torch.arange(len(last))
        m = stim.unsqueeze(-1).float()
        denom = m.sum(1).clamp(min=1)
        saved = []
        layers = self.nn.model.layers
        with torch.inference_mode(), self.nn.trace(**enc.batch, **self.extra):
            for layer in range(self.n_layers):  # in execution order: attn, mlp, block
                a = layers[layer].self_attn.output[0]
                b = layers[layer].mlp.output
                r = layers[layer].output
                saved.append((layer, [(kind, h[rows, last].save(), ((h * m).sum(1) / denom).save())
                                      for kind, h in (("attn", a), ("mlp", b), ("resid", r))]))
        for layer, entries in saved:
            for kind, fin, mean in entries:
                keep(kind, layer, fin.float(), mean.float())


def worker_main(tool: str, items: int, batch_size: int, threads: int) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    w = Worker(tool, items, batch_size)
    modes = PACKAGE_MODES if tool == "package" else PEER_MODES[tool]
    reference = {}
    for mode in modes:  # warm-up, and the first batch's final-token rows for the check
        reference[mode] = {k: v for k, v in w.run(mode).items() if k[2] == "final"}
    print(json.dumps({"ready": tool, "versions": w.versions, "rss_mb": _status("VmRSS"),
                      "finals": {mode: {f"{k[0]}|{k[1]}": np.asarray(v[:2]).tolist()
                                        for k, v in ref.items()}
                                 for mode, ref in reference.items() if ref}}), flush=True)
    for line in sys.stdin:
        mode = line.strip()
        if not mode:
            continue
        before = _status("VmRSS")
        _reset_peak()
        t0 = time.perf_counter()
        w.run(mode)
        seconds = time.perf_counter() - t0
        print(json.dumps({"mode": mode, "seconds": seconds, "rss_before_mb": before,
                          "peak_mb": _status("VmHWM")}), flush=True)


# ---- driver ------------------------------------------------------------------------------------

def _spawn(python: str, tool: str, args: argparse.Namespace) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [python, str(Path(__file__).resolve()), "--worker", tool, "--items", str(args.items),
           "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)


def _ready(proc: subprocess.Popen[str]) -> dict[str, Any] | None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            return json.loads(line)
    return None


def _max_diff(a: dict[str, list], b: dict[str, list]) -> float:
    import numpy as np

    keys = sorted(set(a) & set(b))
    return max(float(np.abs(np.asarray(a[k]) - np.asarray(b[k])).max()) for k in keys) \
        if keys else float("nan")


def driver(args: argparse.Namespace) -> None:
    peer_python = args.peer_python or sys.executable
    tools = {"package": sys.executable}
    for peer in ("nnsight", "transformer_lens"):
        if peer not in args.skip:
            tools[peer] = peer_python
    procs, info = {}, {}
    for tool, python in tools.items():  # one at a time: loading is not what is measured
        proc = _spawn(python, tool, args)
        ready = _ready(proc)
        if ready is None:
            proc.kill()
            print(f"{tool}: could not start in {python} (see its stderr above); left out")
            continue
        procs[tool], info[tool] = proc, ready
        print(f"{tool}: {python} -> {json.dumps(ready['versions'])}, RSS after load and "
              f"warm-up {ready['rss_mb']} MiB", flush=True)
    plan = [(tool, mode) for tool in procs
            for mode in (PACKAGE_MODES if tool == "package" else PEER_MODES[tool])]
    times: dict[tuple[str, str], list[float]] = {p: [] for p in plan}
    peaks: dict[tuple[str, str], list[int]] = {p: [] for p in plan}
    for rep in range(args.reps):  # interleaved: every tool once per repetition, rotated
        order = plan[rep % len(plan):] + plan[:rep % len(plan)]
        for tool, mode in order:
            proc = procs[tool]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(mode + "\n")
            proc.stdin.flush()
            res = json.loads(proc.stdout.readline())
            times[(tool, mode)].append(res["seconds"])
            peaks[(tool, mode)].append(res["peak_mb"] - res["rss_before_mb"])
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=120)
    base = statistics.median(times[("package", "bare")])
    pkg_final = info["package"]["finals"]["capture"]
    print(f"\n{args.items} clinical prompts, batches of {args.batch_size}, {args.threads} "
          f"threads, {args.reps} interleaved repetitions; 90 sites x (final, stimulus mean) "
          f"unless noted. Unit: the package process's bare forward, median {base:.2f} s.")
    print(f"{'tool':<18}{'mode':<18}{'median s':>9}{'x bare':>8}{'x own bare':>11}"
          f"{'+peak MiB':>10}{'max |diff| vs capture':>23}")
    for tool, mode in plan:
        med = statistics.median(times[(tool, mode)])
        own = statistics.median(times[(tool, "bare")])
        finals = info[tool]["finals"].get(mode)
        diff = _max_diff(finals, pkg_final) if finals else float("nan")
        print(f"{tool:<18}{mode:<18}{med:>9.2f}{med / base:>8.3f}{med / own:>11.3f}"
              f"{max(peaks[(tool, mode)]):>10d}{diff:>23.2e}")
    print("hidden_states covers the residual stream only (30 of the 90 sites); the bridge runs "
          "eager attention, so 'x own bare' is its overhead over its own forward.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peer-python", default=None,
                    help="the Python of an environment with nnsight and transformer-lens")
    ap.add_argument("--skip", default="", help="comma-separated peers to leave out")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.skip = set(filter(None, args.skip.split(",")))
    if args.worker:
        worker_main(args.worker, args.items, args.batch_size, args.threads)
    else:
        driver(args)


if __name__ == "__main__":
    main()
