"""``export``, ``diff`` and ``push``: the Hugging Face dataset folder and its release."""

from __future__ import annotations

import argparse
import json
import sys

from .._util.extras import require
from .._util.progress import stage
from .._version import __version__
from ..core.battery import battery_frame
from ..core.digest import battery_digest
from ..core.sources import export_files, load_source, write_folder
from ..errors import EXIT_FINDINGS, EXIT_OK, ExportError, UsageError
from ..publish.card import DEFAULT_REPO_ID
from ..publish.diff import diff_frames, format_diff, load_side
from ..publish.export import export, verify_export
from ..publish.hub import check_tag, dry_run, push
from ..publish.hub_yaml import check_repo_id
from ..validators.classifier import build_classifier, check_backend
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
    if getattr(args, "battery", None):
        return _export_source(args)
    if args.report is None:  # the defence battery runs first: its extras, before any work
        require("validate", what="export (it runs the defence battery)",
                hint="or give --report with a report.json of validate")
        if args.classifier != "none":
            check_backend(args.classifier)
    repo_id = check_repo_id(args.repo_id or DEFAULT_REPO_ID)  # before minutes of defence checks
    report = load_json(args.report) if args.report else None
    results = load_json(args.results) if args.results else None
    if report is None:
        classifier = None
        if args.classifier != "none":
            stage(f"export: loading the {args.classifier} classifier")
            classifier = build_classifier(args.classifier)
        stage("export: running the defence battery (about a minute; --report reuses one)")
        report = run_defence(battery_frame(), classifier, strict=True)[0].to_dict()
    stage(f"export: writing the dataset folder {args.out}")
    out = export(args.out, report, results, force=args.force, repo_id=repo_id)
    print(f"exported affect-battery {__version__} to {out}/")
    return EXIT_OK


def _export_source(args: argparse.Namespace) -> int:
    """``export --battery``: another battery in our schema, with a card naming it as imported.

    Not a release: no strict validation, no affect-battery card; the defence report (given, or
    run now in draft mode) must be about exactly these items.
    """
    if args.report is None:
        require("validate", what="export --battery (it runs the defence battery)",
                hint="or give --report with a report.json of validate --battery")
        if args.classifier != "none":
            check_backend(args.classifier)
    source = load_source(args.battery, args.battery_format)
    frame = source.stimuli()
    if args.report is not None:
        report = load_json(args.report)
        if report.get("battery_sha256") != battery_digest(frame):
            raise ExportError(f"{args.report}: the defence report was computed on different "
                              "data (battery hash mismatch); run validate --battery again")
    else:
        classifier = build_classifier(args.classifier) if args.classifier != "none" else None
        stage("export: running the defence battery on the imported battery (draft mode)")
        rep = run_defence(frame, classifier, strict=False, ratings=source.ratings,
                          skip=source.not_computed())[0]
        rep.battery_source = source.describe()
        report = rep.to_dict()
    out = write_folder(args.out, export_files(source, report), force=args.force)
    print(f"exported {source.name} ({source.layout}"
          + (", imported" if source.imported else "") + f") to {out}/")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    d = diff_frames(load_side(args.old), load_side(args.new))
    sys.stdout.write(json.dumps(d, indent=2) + "\n" if args.format == "json" else format_diff(d))
    return EXIT_OK


def release_tag(args: argparse.Namespace) -> str:
    """``--tag``, or the deprecated ``--revision`` with one warning on stderr."""
    old = getattr(args, "deprecated_revision", None)
    if old is not None:
        print("affect-battery push: warning: --revision is deprecated, use --tag (it names the "
              "release tag to create, not a revision to read)", file=sys.stderr)
        if args.tag is not None and args.tag != old:
            raise UsageError(f"--tag {args.tag} and --revision {old} disagree; give --tag only")
    tag = args.tag if args.tag is not None else old
    if tag is None:
        raise UsageError(f"give the release tag: --tag v{__version__}")
    return tag


def cmd_push(args: argparse.Namespace) -> int:
    require("hub", what="push")
    tag = release_tag(args)
    check_tag(tag)
    if args.dry_run:
        for line in dry_run(args.folder, args.repo_id, tag, force=args.force).lines():
            print(line)
        return EXIT_OK
    result = push(args.folder, args.repo_id, tag, private=args.private, force=args.force)
    moved = " (the existing tag was moved to it)" if result.replaced_tag else ""
    print(f"pushed {args.folder} to datasets/{args.repo_id} as commit {result.commit_oid[:12]} "
          f"and tagged it {tag}{moved}: {result.commit_url}")
    return EXIT_OK
