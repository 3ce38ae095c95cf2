"""``validate``, ``demo``, ``stats`` and ``train-classifier``: the shipped battery and its
defence battery."""

from __future__ import annotations

import argparse
import json
import sys

from .._util.progress import progress_enabled
from .._version import __version__
from ..core.battery import battery_frame
from ..core.summary import battery_summary, format_summary
from ..errors import EXIT_FINDINGS, EXIT_OK, ClassifierError, UsageError
from ..validators.classifier import build_classifier, head_path
from ..validators.defence import StructuralSummary, run_defence
from ..validators.gate import FORMATTERS, GateReport, check_battery, format_text
from ..validators.lexicon import load_lexicon
from ..validators.report import headline, render_markdown, write_report
from ..validators.train_classifier import compare_head, save_head, train
from ._output import emit


def cmd_validate(args: argparse.Namespace) -> int:
    report = check_battery(strict=args.strict)
    if args.schema_only:
        emit(FORMATTERS[args.format](report), args.output)
        return report.exit_code
    return _full_validate(args, report)


def _full_validate(args: argparse.Namespace, structural: GateReport) -> int:
    classifier = None
    if args.classifier != "none":
        classifier = build_classifier(args.classifier, device=args.device)
    report, items = run_defence(battery_frame(), classifier, progress=progress_enabled(),
                                strict=args.strict)
    report.structural = StructuralSummary.of(structural)
    out = write_report(report, items, args.out, figures=not args.no_figures,
                       extra_files={"structural.txt": format_text(structural)})
    if args.format == "json":
        text = json.dumps(report.to_dict(), indent=2) + "\n"
    else:
        text = (render_markdown(report) + f"\nStructural checks: "
                f"{format_text(structural).strip()}\nReport written to {out}/\n")
    emit(text, args.output)
    return structural.exit_code


def cmd_train_classifier(args: argparse.Namespace) -> int:
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


def cmd_stats(args: argparse.Namespace) -> int:
    summary = battery_summary(battery_frame())
    if args.format == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        sys.stdout.write(format_summary(summary))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded defaults: validate the battery and run the defence battery."""
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
        classifier = build_classifier("embedded")
    except ClassifierError as exc:
        print(f"\n(contextual classifier skipped: {exc})")
        classifier = None
    print("\nDefence battery (embedded classifier, all offline)...")
    report, items = run_defence(frame, classifier, strict=strict)
    out = write_report(report, items, args.out)
    sys.stdout.write("\n" + headline(report) + f"\nFull report: {out}/report.md\n")
    return structural.exit_code
