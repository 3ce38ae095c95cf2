"""The command line's options: one function per command, argparse only.

Kept apart from the commands themselves so that building the parser imports nothing heavy: the
command that runs is imported on its own (see :data:`affect_battery.cli.COMMANDS`), which keeps
``affect-battery gate`` from loading the analyses, the Hub client or the defence battery.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from ..analyses.choices import DEVICE_MAPS, METHODS


def add_format(p: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json")) -> None:
    p.add_argument("--format", choices=list(choices), default="text",
                   help="output format (default: text)")


def add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", metavar="FILE",
                   help="also write the report to FILE (atomically; FILE must be a regular "
                   "file or a new path, never an input; nothing is written on exit 2)")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="if FILE is a symbolic link, write to its target (refused otherwise)")


def add_battery(p: argparse.ArgumentParser) -> None:
    """``--battery``: run the command on another battery (ours or imported; core.sources)."""
    p.add_argument("--battery", metavar="PATH|hf:ID",
                   help="another battery instead of the shipped one: a data folder "
                   "(stimuli/*.jsonl), an export folder, a folder or file in the AIPsy-Affect "
                   "layout, or hf:ORG/NAME[@REV] from the Hub; checks it cannot support are "
                   "reported as not computed")
    p.add_argument("--battery-format", default="auto",
                   choices=["auto", "affect-battery", "aipsy"],
                   help="layout of --battery (default: auto, told apart by files and ids)")


GATE_EPILOG = """\
the base (what new items are checked against), first that applies:
  --root DIR             that repository's stimuli: every .jsonl, .csv and .parquet file
                         below DIR/data/stimuli, else DIR/stimuli, else DIR (hidden names
                         skipped)
  AFFECT_BATTERY_DATA    environment variable: a data folder in the battery's layout
                         (stimuli/<emotion>.jsonl, stimuli/complex_neutral.jsonl); also
                         used by validate, stats and export
  (neither)              the battery shipped with the package
  --no-battery           no base: the files are checked on their own

A FILE inside the base replaces its version there (resolved paths); an item with the id and
text of a base item is that item, not an id collision; a pair's partner may be in any file
of the set (the FILEs plus the base).

exit codes: 0 clean, 1 findings, 2 unusable input or options (one line on stderr)."""


def parser_gate(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("gate", help="check new stimulus items (JSONL, CSV or Parquet) for CI",
                       description="Check new items together with a base of existing items. "
                       "Exit 0 clean, 1 findings, 2 unusable input.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=GATE_EPILOG)
    g.add_argument("files", nargs="+", metavar="FILE")
    add_format(g, ("text", "json", "github", "markdown"))
    add_output(g)
    g.add_argument("--summary", metavar="FILE",
                   help="also append a Markdown summary to FILE, e.g. \"$GITHUB_STEP_SUMMARY\"")
    g.add_argument("--strict", action="store_true",
                   help="also require the combined battery to be complete (release counts)")
    base = g.add_mutually_exclusive_group()
    base.add_argument("--root", metavar="DIR",
                      help="check against this repository's own stimuli instead of the "
                      "battery: DIR/data/stimuli, else DIR/stimuli, else DIR itself")
    base.add_argument("--no-battery", action="store_true",
                      help="check the files on their own, not against any base")
    g.add_argument("--lexicon", metavar="YAML", help="use another emotion-term lexicon")
    g.add_argument("--defence", action="store_true",
                   help="add per-item defence checks: classifier P(emotional) and category, "
                   "bag-of-words P(clinical)")
    g.add_argument("--classifier", default="embedded", metavar="SPEC",
                   help="classifier for --defence (default: embedded)")


def parser_validate(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("validate", help="re-run the checks on the shipped battery")
    mode = v.add_mutually_exclusive_group()
    mode.add_argument("--strict", dest="strict", action="store_true", default=None,
                      help="require the complete release counts (default, except for "
                      "--battery: draft)")
    mode.add_argument("--draft", dest="strict", action="store_false",
                      help="check everything but completeness, for batteries being written")
    v.add_argument("--schema-only", action="store_true",
                   help="structural and keyword checks only (no defence-battery statistics)")
    v.add_argument("--classifier", default="embedded", metavar="SPEC",
                   help="contextual classifier: embedded (offline, default), hf, "
                   "hf:<model id or folder>, or none")
    v.add_argument("--out", default="defence-report", metavar="DIR",
                   help="report folder (default: defence-report)")
    v.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    v.add_argument("--device", default="cpu", help="torch device for the classifier")
    add_format(v)
    add_output(v)
    add_battery(v)


def parser_train_classifier(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train-classifier",
                       help="re-train the embedded classifier head from data/classifier/")
    t.add_argument("--out", metavar="FILE",
                   help="where to write the head (default: the shipped file's path)")
    t.add_argument("--check", action="store_true",
                   help="retrain and compare with the shipped head (same predictions, weights "
                   "within tolerance); write nothing")


def parser_stats(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("stats", help="counts, lengths and pair statistics of the battery")
    add_format(s)
    add_battery(s)


def parser_export(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("export", help="build the Hugging Face dataset folder",
                       description="Parquet per split, dataset card and datasheet rendered from "
                       "the data and the defence report, manifest, citation, changelog.")
    e.add_argument("out", nargs="?", metavar="OUT")
    e.add_argument("--force", action="store_true", help="replace a non-empty OUT")
    e.add_argument("--report", metavar="JSON", help="a strict-mode defence report.json to "
                   "use (default: run the defence battery now)")
    e.add_argument("--results", metavar="JSON", help="an analyses results.json to summarise")
    e.add_argument("--classifier", default="embedded", metavar="SPEC",
                   help="classifier when the defence battery runs now (default: embedded)")
    e.add_argument("--repo-id", default=None, metavar="ORG/NAME",
                   help="Hub repository the folder is for: named in the card's metadata, "
                   "its loading examples and CITATION.cff (default: affect-battery/"
                   "affect-battery)")
    e.add_argument("--verify", metavar="DIR", help="check an existing export instead: "
                   "manifest and card re-render")
    add_battery(e)


def parser_diff(sub: argparse._SubParsersAction) -> None:
    df = sub.add_parser("diff", help="items added, changed and removed between two versions")
    df.add_argument("old", help="export folder, or 'current'")
    df.add_argument("new", help="export folder, or 'current'")
    add_format(df)


def parser_push(sub: argparse._SubParsersAction) -> None:
    pu = sub.add_parser("push", help="upload an export folder to the Hub and tag it",
                        description="Upload DIR as one commit (files no longer in DIR are "
                        "deleted from the Hub) and tag that commit. An existing tag is refused "
                        "before anything is uploaded, unless --force.")
    pu.add_argument("folder", metavar="DIR")
    pu.add_argument("--repo-id", required=True, metavar="ORG/NAME",
                    help="the Hub dataset repository; must be the one DIR was exported for")
    pu.add_argument("--tag", metavar="vX.Y.Z",
                    help="release tag to create on the new commit (v + the battery version)")
    pu.add_argument("--revision", dest="deprecated_revision", metavar="vX.Y.Z",
                    help="deprecated alias of --tag")
    pu.add_argument("--force", action="store_true",
                    help="if the tag exists, move it to the new commit instead of refusing")
    pu.add_argument("--dry-run", action="store_true",
                    help="print the plan (uploads, deletions, tag) and change nothing")
    pu.add_argument("--private", action="store_true", help="create the repository private")


def parser_analyze(sub: argparse._SubParsersAction) -> None:
    an = sub.add_parser("analyze", help="run the reference interpretability suite on a model",
                        description="Probing, exact and attribution patching, knockout, "
                        "geometry and steering on any Hugging Face model over the battery.")
    an.add_argument("--model", required=True, metavar="ID|PATH|ALIAS",
                    help="Hub id, local folder, or alias: smollm2-135m, minilm")
    an.add_argument("--methods", default=",".join(METHODS), metavar="LIST",
                    help=f"comma-separated subset of {','.join(METHODS)}")
    an.add_argument("--layers", metavar="LIST", help="layer indices, e.g. 0,4,8 or 0-11")
    an.add_argument("--splits", default="clinical,neutral,moderate,keyword_rich,complex_neutral",
                    metavar="LIST")
    an.add_argument("--preset", default="two_shot", choices=["two_shot", "raw"])
    an.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    an.add_argument("--device-map", choices=list(DEVICE_MAPS),
                    help="split one large model across the visible GPUs and CPU memory "
                         "(accelerate's placement; --device is then ignored)")
    an.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    an.add_argument("--batch-size", type=int, default=16)
    an.add_argument("--patch-pairs", type=int, default=8, help="pairs per patching type")
    an.add_argument("--knockout-items", type=int, default=8,
                    help="clinical items (with their neutrals) for knockout")
    an.add_argument("--permutations", type=int, default=50)
    an.add_argument("--max-items", type=int, help="a quick run on a small subset")
    an.add_argument("--seed", type=int, default=0)
    an.add_argument("--no-cache", action="store_true", help="do not read or write the "
                    "activation cache")
    an.add_argument("--trust-remote-code", action="store_true",
                    help="allow a Hub model's own code to run (off by default)")
    an.add_argument("--out", default="analysis", metavar="DIR")
    an.add_argument("--sae", metavar="FOLDER|RELEASE/ID",
                    help="for --methods sae: an SAE folder in the sae-lens layout (e.g. from "
                    "sae-train) or a sae-lens release/id (needs the 'sae' extra)")
    an.add_argument("--sae-hook", metavar="SITE",
                    help="site the SAE reads (blocks.N, blocks.N.mlp or a TransformerLens hook "
                    "name); default: the SAE's own hook_name")
    an.add_argument("--sae-top-k", type=int, default=10, metavar="K",
                    help="affect latents ablated in the SAE causal check")
    an.add_argument("--sae-items", type=int, default=64, metavar="N",
                    help="clinical items of the SAE causal check")
    add_battery(an)


def parser_sae_train(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser("sae-train", help="train a small TopK SAE offline (a demonstration "
                        "dictionary for analyze --methods sae)",
                        description="Capture token activations of a model at one site over "
                        "the battery and the classifier's training corpus, fit a TopK sparse "
                        "autoencoder and save it in the sae-lens folder layout.")
    st.add_argument("--model", default="smollm2-135m", metavar="ID|PATH|ALIAS")
    st.add_argument("--out", default="sae-smollm2", metavar="DIR")
    st.add_argument("--hook", metavar="SITE", help="site to read (blocks.N, blocks.N.mlp, "
                    "...); default: the residual stream after the middle block")
    st.add_argument("--d-sae", type=int, metavar="N", help="latents (default: 8 x hidden size)")
    st.add_argument("--k", type=int, default=32, help="active latents per token")
    st.add_argument("--steps", type=int, default=3000)
    st.add_argument("--batch-size", type=int, default=512, help="tokens per training step")
    st.add_argument("--lr", type=float, default=5e-4)
    st.add_argument("--max-texts", type=int, metavar="N",
                    help="a quick run on the first N texts of each corpus")
    st.add_argument("--seed", type=int, default=0)
    st.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    st.add_argument("--trust-remote-code", action="store_true",
                    help="allow a Hub model's own code to run (off by default)")


def parser_sweep(sub: argparse._SubParsersAction) -> None:
    sw = sub.add_parser("sweep", help="analyze many models x seeds x prompt presets from a YAML "
                        "file, then compare them",
                        description="Each job is an ordinary analyze run in OUT/<model>__seed<k>"
                        "__<preset>; finished jobs are skipped, failures recorded in "
                        "OUT/manifest.json. Then comparison.csv, comparison.md and "
                        "comparison.png across the runs. Exit 0 all jobs done, 1 some failed, "
                        "2 unusable spec or options.")
    sw.add_argument("spec", metavar="SPEC.yaml", help="the sweep file (see examples/sweep.yaml)")
    sw.add_argument("--out", metavar="DIR", help="sweep folder (default: the file's 'out')")
    sw.add_argument("--executor", choices=["local", "slurm", "submitit-local"],
                    help="local: one job after another in this process; slurm: a Slurm job "
                    "array through submitit; submitit-local: submitit's subprocesses on this "
                    "machine (default: the file's 'executor', else local)")
    sw.add_argument("--compare-only", action="store_true",
                    help="run nothing; compare the finished runs")
    sw.add_argument("--retry-failed", action="store_true",
                    help="also rerun the jobs that failed last time")
    sw.add_argument("--dry-run", action="store_true",
                    help="list the jobs and which would run or be skipped; run nothing")
    sw.add_argument("--metric", metavar="NAME", help="per-layer metric to compare: "
                    "paired_margin (default when present), pair_win_rate, auroc, ... or a "
                    "dotted path into results.json")


def parser_screen(sub: argparse._SubParsersAction) -> None:
    sc = sub.add_parser("screen", help="show emotion-lexicon hits in a text (stdin if none)")
    sc.add_argument("text", nargs="*")
    add_format(sc)


def parser_demo(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("demo", help="validate the shipped battery and run the defence battery "
                       "with the embedded classifier")
    d.add_argument("--out", default="defence-report", metavar="DIR",
                   help="report folder (default: defence-report)")


def parser_norms(sub: argparse._SubParsersAction) -> None:
    n = sub.add_parser("norms", help="human norming kit: build a study, ingest its responses",
                       description="Run the reading-norms study with human raters: `norms "
                       "study` writes counterbalanced lists as offline HTML pages (or Label "
                       "Studio files); `norms ingest` validates the responses and stores them "
                       "as human ratings, kept apart from the machine norms.")
    steps = n.add_subparsers(dest="norms_command", metavar="STEP", required=True)
    s = steps.add_parser("study", help="write the lists of a human norming study")
    s.add_argument("--lists", type=int, required=True, metavar="K",
                   help="lists per cycle (at least 3); each participant reads one list")
    s.add_argument("--out", required=True, metavar="DIR",
                   help="study folder (written whole; refused onto a link, file or device)")
    s.add_argument("--format", choices=["html", "label-studio"], default="html",
                   help="static HTML pages (default) or a Label Studio config and tasks")
    s.add_argument("--cycles", type=int, default=1,
                   help="cycles: every text appears once per cycle (default: 1)")
    s.add_argument("--checks", type=int, default=2, help="attention checks per list "
                   "(default: 2)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--round", type=int, default=1, help="round number stored with the ratings")
    s.add_argument("--study-id", metavar="ID", help="study id (default: derived from the lists)")
    s.add_argument("--consent", metavar="FILE", help="consent text (Markdown subset; default: "
                   "the shipped template, which must be edited)")
    s.add_argument("--instructions", metavar="FILE",
                   help="instructions (default: the shipped human-v1 text)")
    s.add_argument("--force", action="store_true", help="replace a non-empty DIR")
    i = steps.add_parser("ingest", help="validate response files and store human ratings",
                         description="Exit 0: read (exclusions are reported); 2: a file "
                         "cannot be used (one line; nothing is stored).")
    i.add_argument("files", nargs="+", metavar="FILE",
                   help="page downloads (responses-*.json) or Label Studio JSON exports")
    i.add_argument("--study", required=True, metavar="DIR", help="the folder `norms study` "
                   "wrote (its study.json)")
    i.add_argument("--ratings", metavar="FILE", help="ratings store to append to (default: "
                   "the shipped data/norms/ratings.jsonl)")
    i.add_argument("--min-median-ms", type=int, default=2000, metavar="MS",
                   help="exclude participants whose median time per text is below MS "
                   "(default: 2000)")
    i.add_argument("--max-failed-checks", type=int, default=0, metavar="N",
                   help="exclude participants failing more than N attention checks "
                   "(default: 0)")
    i.add_argument("--dry-run", action="store_true", help="validate and report; store nothing")


PARSERS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    parser_gate, parser_validate, parser_train_classifier, parser_stats, parser_export,
    parser_diff, parser_push, parser_analyze, parser_sweep, parser_screen, parser_demo,
    parser_norms, parser_sae_train)
"""In the order ``affect-battery --help`` lists the commands."""
