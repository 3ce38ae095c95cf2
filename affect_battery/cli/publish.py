"""``export``, ``diff`` and ``push``: the Hugging Face dataset folder and its release."""

from __future__ import annotations

import argparse
import json
import sys

from .._version import __version__
from ..core.battery import battery_frame
from ..errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ..publish.card import DEFAULT_REPO_ID
from ..publish.diff import diff_frames, format_diff, load_side
from ..publish.export import export, verify_export
from ..publish.hub import check_revision, push, upload_plan
from ..validators.classifier import build_classifier
from ..validators.defence import run_defence
from ._output import load_json


def cmd_export(args: argparse.Namespace) -> int:
    if args.verify:
        problems = verify_export(args.verify)
        for p in problems:
            print(f"{args.verify}: {p}")
        print("OK: export verifies" if not problems else f"FAILED: {len(problems)} problem(s)")
        return EXIT_FINDINGS if problems else EXIT_OK
    if not args.out:
        raise UsageError("give an output folder (or --verify DIR)")
    report = load_json(args.report) if args.report else None
    results = load_json(args.results) if args.results else None
    if report is None:
        classifier = None
        if args.classifier != "none":
            classifier = build_classifier(args.classifier)
        report = run_defence(battery_frame(), classifier, strict=True)[0].to_dict()
    out = export(args.out, report, results, force=args.force,
                 repo_id=args.repo_id or DEFAULT_REPO_ID)
    print(f"exported affect-battery {__version__} to {out}/")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    d = diff_frames(load_side(args.old), load_side(args.new))
    sys.stdout.write(json.dumps(d, indent=2) + "\n" if args.format == "json" else format_diff(d))
    return EXIT_OK


def cmd_push(args: argparse.Namespace) -> int:
    check_revision(args.revision)
    if args.dry_run:
        plan = upload_plan(args.folder)
        for item in plan:
            print(f"{item.size:>10}  {item.sha256[:12]}  {item.path}")
        print(f"dry run: {len(plan)} files, {sum(i.size for i in plan)} bytes would be uploaded "
              f"to datasets/{args.repo_id} and tagged {args.revision}")
        return EXIT_OK
    url = push(args.folder, args.repo_id, args.revision, private=args.private)
    print(f"pushed {args.folder} to datasets/{args.repo_id} and tagged {args.revision}: {url}")
    return EXIT_OK
