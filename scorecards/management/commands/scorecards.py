"""`manage.py scorecards evaluate [--entity REF] [--scorecard REF]`: evaluate now, from the command line."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.descriptors.refs import RefError, parse_ref
from scorecards import evaluation


class ProgressBar:
    """A one-line progress bar on stderr (`[#####-----] 500/1000 entities, 3.2 s`), redrawn at most 10 times a
    second; on a stream that is not a terminal, only the final line is written."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.started = time.monotonic()
        self.drawn = 0.0
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        final = done >= total
        if not final and (not self.tty or now - self.drawn < 0.1):
            return
        self.drawn = now
        filled = self.width * done // total if total else self.width
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] {done}/{total} entities, {now - self.started:.1f} s"
        self.stream.write(("\r" if self.tty else "") + line + ("\n" if final else ""))
        self.stream.flush()


def _ref(value: str, *, kind: str, option: str) -> str:
    try:
        ref = parse_ref(value.strip(), default_kind=kind if kind == "scorecard" else None)
    except RefError as error:
        raise CommandError(f"{option} {value!r}: {error} (expected kind:namespace/name)") from None
    text = str(ref).lower()
    if kind == "scorecard" and not text.startswith("scorecard:"):
        raise CommandError(f"{option} {value!r}: a scorecard ref is scorecard:namespace/name")
    return text


class Command(BaseCommand):
    help = "Evaluate scorecards now: every entity on every scorecard, one entity, or every entity on one scorecard."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        evaluate = commands.add_parser("evaluate", help="Collect facts and grade entities now.")
        which = evaluate.add_mutually_exclusive_group()
        which.add_argument("--entity", metavar="REF", help="One entity, e.g. component:default/checkout.")
        which.add_argument("--scorecard", metavar="REF", help="Every entity on one scorecard.")
        evaluate.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] != "evaluate":  # argparse allows only evaluate; kept for a future subcommand
            raise CommandError(f"unknown subcommand {options['subcommand']!r}")
        progress = None if options["no_progress"] else ProgressBar(sys.stderr)
        started = time.monotonic()
        if options["entity"]:
            summary = evaluation.entities_evaluate(
                entity_refs=[_ref(options["entity"], kind="entity", option="--entity")], progress=progress
            )
        elif options["scorecard"]:
            ref = _ref(options["scorecard"], kind="scorecard", option="--scorecard")
            if not evaluation.scorecard_definitions(refs=[ref]) and not evaluation.scorecard_known(ref=ref):
                raise CommandError(f"--scorecard {ref}: no Scorecard entity of that ref is in the catalog")
            summary = evaluation.scorecard_evaluate(scorecard_ref=ref, progress=progress)
        else:
            summary = evaluation.scorecard_evaluate_all(progress=progress)
        self.stdout.write(
            f"Evaluated {summary.entities} entities on {summary.scorecards} scorecards in "
            f"{time.monotonic() - started:.1f} s: {summary.scores} scores, {summary.results} check results, "
            f"{summary.transitions} transitions, {summary.removed} scores removed."
        )
