"""``validate``, ``demo``, ``stats`` and ``train-classifier``: the shipped battery and its
defence battery."""

from __future__ import annotations

import argparse
import json
import sys

from .._util.extras import require
from .._util.progress import progress_enabled
from .._version import __version__
from ..core.battery import battery_frame
from ..core.sources import BatterySource, load_source
from ..core.summary import battery_summary, format_summary
from ..errors import EXIT_FINDINGS, EXIT_OK, ClassifierError, UsageError
from ..validators.classifier import Classifier, build_classifier, head_path, missing_for, parse_spec
from ..validators.defence import StructuralSummary, run_defence
from ..validators.gate import FORMATTERS, GateReport, check_battery, check_items, format_text
from ..validators.lexicon import load_lexicon
from ..validators.report import headline, render_markdown, write_report
from ..validators.train_classifier import compare_head, save_head, train
from ._output import emit


def battery_source(args: argparse.Namespace) -> BatterySource | None:
    """The ``--battery`` given to this command (read and mapped now), or None: the shipped one."""
    spec = getattr(args, "battery", None)
    return load_source(spec, getattr(args, "battery_format", "auto")) if spec else None


def source_structural(source: BatterySource, strict: bool) -> GateReport:
    """The structural and keyword checks of another battery (as ``check_battery`` of ours)."""
    frame = source.frame.drop(columns="source_item_id")
    findings = [*source.findings, *check_items(frame, None, strict=strict)]
    return GateReport(sorted(set(frame["_file"])), len(frame), findings, strict)


def cmd_validate(args: argparse.Namespace) -> int:
    if not args.schema_only:
        require("validate", what="validate", hint="or give --schema-only")
    source = battery_source(args)
    # an imported battery has its own release counts: draft mode unless --strict is given
    if args.strict is None:
        args.strict = source is None or not source.imported
    if source is not None:
        mode = "strict" if args.strict else "draft"
        print(f"affect-battery validate: {source.note_text().rstrip()}\n  {mode} mode"
              + (" (an imported battery's counts differ from affect-battery's release counts; "
                 "--strict requires ours)" if source.imported and not args.strict else ""),
              file=sys.stderr)
    report = (check_battery(strict=args.strict) if source is None
              else source_structural(source, args.strict))
    if args.schema_only:
        emit(FORMATTERS[args.format](report), args.output)
        return report.exit_code
    return _full_validate(args, report, source)


def contextual(spec: str, command: str, device: str = "cpu") -> Classifier | None:
    """The ``--classifier`` backend, or None for ``none``. The embedded default without the
    ``classifier`` extra is not an error: the lexicon-only defence runs, after a one-line notice
    on stderr; an explicit ``hf`` backend without it is (exit 2, naming the extra)."""
    if spec == "none":
        return None
    if parse_spec(spec).kind == "embedded" and missing_for(spec):
        print(f"affect-battery {command}: notice: no contextual classifier (it needs the "
              "'classifier' extra: pip install 'affect-battery[classifier]'); running the "
              "lexicon-only defence battery", file=sys.stderr)
        return None
    return build_classifier(spec, device=device)


def _full_validate(args: argparse.Namespace, structural: GateReport,
                   source: BatterySource | None = None) -> int:
    classifier = contextual(args.classifier, "validate", device=args.device)
    if source is None:
        report, items = run_defence(battery_frame(), classifier, progress=progress_enabled(),
                                    strict=args.strict)
    else:
        report, items = run_defence(source.stimuli(), classifier, progress=progress_enabled(),
                                    strict=args.strict, ratings=source.ratings,
                                    skip=source.not_computed())
        report.battery_source = source.describe()
    report.structural = StructuralSummary.of(structural)
    extra = {"structural.txt": format_text(structural)}
    if source is not None:
        extra["battery-source.md"] = source_markdown(source)
    out = write_report(report, items, args.out, figures=not args.no_figures,
                       extra_files=extra)
    if args.format == "json":
        text = json.dumps(report.to_dict(), indent=2) + "\n"
    else:
        text = (render_markdown(report) + f"\nStructural checks: "
                f"{format_text(structural).strip()}\n"
                + (source_summary(source, args.strict) if source is not None else "")
                + f"Report written to {out}/\n")
    emit(text, args.output)
    return structural.exit_code


def cmd_train_classifier(args: argparse.Namespace) -> int:
    require("validate", "sklearn", what="train-classifier")
    require("classifier", what="train-classifier")
    result = train()
    sys.stdout.write(result.describe())
    target = head_path()
    if args.check:
        if not target.is_file():
            raise UsageError(f"{target}: no shipped head to compare with")
        cmp = compare_head(target, result)
        sys.stdout.write(cmp.describe(target))
        return EXIT_OK if cmp.reproduced else EXIT_FINDINGS
    out = save_head(result, args.out or target)
    print(f"wrote {out}")
    return EXIT_OK


def source_summary(source: BatterySource, strict: bool) -> str:
    """The lines ``validate --battery`` adds: which battery, its mode, what was not computed."""
    mode = "strict" if strict else "draft (completeness against affect-battery's release " \
        "counts not required)"
    lines = [source.note_text().rstrip(), f"Mode: {mode}"]
    lines += [f"not computed: {reason}" for reason in source.not_computed().values()]
    return "\n".join(lines) + "\n"


def source_markdown(source: BatterySource) -> str:
    """battery-source.md of the report folder: the battery, its notes and the id mapping."""
    rows = source.mapping()
    return "\n".join([
        f"# Battery: {source.name}", "", f"`{source.spec}`, layout {source.layout}"
        + (", imported" if source.imported else ""), "", *(f"- {n}" for n in source.notes),
        "", "| source id | affect-battery id | split |", "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in zip(rows["source_item_id"], rows["id"],
                                                     rows["split"], strict=True))]) + "\n"


def cmd_stats(args: argparse.Namespace) -> int:
    source = battery_source(args)
    summary = battery_summary(battery_frame() if source is None else source.stimuli())
    if source is not None:
        summary["battery"] = source.describe()
    if args.format == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        sys.stdout.write(format_summary(summary))
        if source is not None:
            sys.stdout.write("\n" + source.note_text())
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded defaults: validate the battery and run the defence battery."""
    require("validate", what="demo")
    lex = load_lexicon()
    frame = battery_frame()
    summary = battery_summary(frame)
    print(f"affect-battery {__version__}: emotion-term lexicon with {lex.surface_forms()} "
          "surface forms\n")
    sys.stdout.write(format_summary(summary))
    strict = bool(summary["complete"])
    print(f"\nStructural and keyword checks ({'strict' if strict else 'draft'} mode):")
    structural = check_battery(strict=strict, lexicon=lex)
    sys.stdout.write(format_text(structural))
    try:
        classifier = contextual("embedded", "demo")
    except ClassifierError as exc:
        print(f"\n(contextual classifier skipped: {exc})")
        classifier = None
    with_what = "embedded classifier" if classifier is not None else "lexicon only"
    print(f"\nDefence battery ({with_what}, all offline)...", flush=True)
    report, items = run_defence(frame, classifier, strict=strict)
    out = write_report(report, items, args.out)
    sys.stdout.write("\n" + headline(report) + f"\nFull report: {out}/report.md\n")
    return structural.exit_code
