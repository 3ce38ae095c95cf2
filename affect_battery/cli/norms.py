"""``affect-battery norms study`` and ``norms ingest``: the human norming kit's two commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._util.extras import require
from ..core.battery import battery_frame
from ..core.norms import load_ratings, ratings_path
from ..errors import UsageError
from ..validators.norms import norms_section
from ..validators.norms_kit.ingest import ingest, report_text
from ..validators.norms_kit.output import check_study_dir, write_study
from ..validators.norms_kit.responses import Rules
from ..validators.norms_kit.study import build_study, instruction_version, normed_items, read_study
from ..validators.norms_kit.tables import rater_table


def _read_text(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the {what} ({type(exc).__name__})") from None


def cmd_norms_study(args: argparse.Namespace) -> int:
    out = check_study_dir(args.out, force=args.force)
    if args.lists < 3:
        raise UsageError("--lists must be at least 3 (a scenario has up to three normed "
                         "versions, and no list may hold two of them)")
    if args.cycles < 1 or args.checks < 0:
        raise UsageError("--cycles must be at least 1 and --checks at least 0")
    consent = _read_text(args.consent, "consent text")
    instructions = _read_text(args.instructions, "instructions")
    frame = battery_frame()
    items = normed_items(frame)
    if not items:
        raise UsageError("the battery has no normed texts")
    study = build_study(items, lists=args.lists, cycles=args.cycles, seed=args.seed,
                        round_no=args.round, checks_per_list=args.checks,
                        study_id=args.study_id, instruction=instruction_version(instructions))
    texts = dict(zip(frame["id"], frame["text"], strict=True))
    names = write_study(out, study, texts, fmt=args.format, consent=consent,
                        instructions=instructions)
    sizes = [len(sl.items) for sl in study.lists]
    print(f"study {study.study_id}: {len(study.lists)} lists ({args.cycles} cycle(s)), "
          f"{min(sizes)}-{max(sizes)} texts + {args.checks} attention checks each, "
          f"{len(items)} texts in all -> {out}/ ({len(names)} files; keep study.json with the "
          "lab, give participants only the "
          + ("list pages)" if args.format == "html" else "Label Studio project)"))
    return 0


def cmd_norms_ingest(args: argparse.Namespace) -> int:
    require("validate", "krippendorff", what="norms ingest")
    try:
        study = read_study(args.study)
    except FileNotFoundError:
        raise UsageError(f"{args.study}: no study.json (give the folder `norms study` "
                         "wrote)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{args.study}: not a study manifest ({exc})") from None
    ratings_file = Path(args.ratings) if args.ratings else ratings_path()
    rules = Rules(min_median_ms=args.min_median_ms, max_failed_checks=args.max_failed_checks)
    frame = battery_frame()
    result = ingest([Path(f) for f in args.files], study, frame, ratings_file=ratings_file,
                    rules=rules, write=not args.dry_run)
    sys.stdout.write(report_text(result, study, ratings_file, written=not args.dry_run))
    ratings = load_ratings(ratings_file)
    if args.dry_run and result.rows:
        import pandas as pd

        ratings = pd.concat([ratings, pd.DataFrame(result.rows)], ignore_index=True)
    section = norms_section(frame, ratings)
    print()
    print("\n".join(rater_table(section)))
    return 0


def cmd_norms(args: argparse.Namespace) -> int:
    """Dispatch ``norms study`` / ``norms ingest``."""
    if args.norms_command == "study":
        return cmd_norms_study(args)
    return cmd_norms_ingest(args)
