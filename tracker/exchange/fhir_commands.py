"""``python -m tracker fhir export|import``: FHIR R4 in and out on the command line (README, "FHIR").

- ``fhir export MRN [MRN …] [--out FILE]``: a Bundle of those patients, on standard output without ``--out``;
- ``fhir export --all DEST``: the whole clinic as FHIR Bulk Data NDJSON files in the new or empty folder DEST,
  with a progress bar on standard error;
- ``fhir import FILE [FILE …]``: Bundles this product exported, into this installation, all or nothing.

Errors go through ``tracker.operations.cli.main``: one line on standard error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from tracker.errors import ValidationError
from tracker.validation import shown_path

BAR_WIDTH = 30


class ProgressBar:
    """A one-line bar on standard error, redrawn at most ten times a second and at the end."""

    def __init__(self, what: str) -> None:
        self.what, self.shown_at, self.finished = what, 0.0, False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.finished or (done < total and now - self.shown_at < 0.1):
            return
        self.finished = done >= total
        self.shown_at = now
        share = done / total if total else 1.0
        filled = round(BAR_WIDTH * share)
        end = "\n" if done >= total else ""
        print(f"\r{self.what} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} {done:,}/{total:,} rows",
              end=end, file=sys.stderr, flush=True)


def cmd_fhir_export(args: argparse.Namespace) -> int:
    from tracker.access.actors import command_line_actor
    from tracker.exchange.fhir_export import export_bundle, export_clinic

    actor = command_line_actor("fhir export")
    if args.all:
        if len(args.targets) != 1:
            raise ValidationError("fhir export --all takes one folder to write into (DEST), and no MRN.")
        print(export_clinic(actor, args.targets[0], progress=ProgressBar("Exporting")).summary())
        return 0
    if not args.targets:
        raise ValidationError("Name the patient to export (MRN), or --all DEST for the whole clinic.")
    if args.out is not None and os.path.lexists(args.out):
        _refuse_existing(Path(args.out))  # before the export is built and audited
    export = export_bundle(actor, args.targets)
    if args.out is None:
        sys.stdout.buffer.write(export.data + b"\n")
        return 0
    _write_new(Path(args.out), export.data)
    counts = ", ".join(f"{number} {kind}" for kind, number in export.counts.items() if number)
    print(f"FHIR R4 Bundle written to {shown_path(args.out)}: {counts}.")
    return 0


def _write_new(target: Path, data: bytes) -> None:
    """``data`` into a new file (owner-only: patient data); an existing file is never replaced."""
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        _refuse_existing(target)
    except OSError as error:
        raise ValidationError(f"{shown_path(target)} could not be created: {error.strerror or error}.") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _refuse_existing(target: Path) -> NoReturn:
    raise ValidationError(f"{shown_path(target)} already exists: an export never replaces a file; choose another name.")


def cmd_fhir_import(args: argparse.Namespace) -> int:
    from tracker.access.actors import command_line_actor
    from tracker.exchange.fhir_import import import_bundles

    print(import_bundles(args.files, actor=command_line_actor("fhir import")).summary())
    return 0


def register(subparsers: Any) -> None:
    """Adds ``fhir export`` and ``fhir import`` to the command line's subcommands."""
    fhir = subparsers.add_parser("fhir", help="FHIR R4 export and import").add_subparsers(
        dest="fhir_command", required=True)
    export = fhir.add_parser("export", help="patients as a FHIR R4 Bundle, or the whole clinic as Bulk Data NDJSON")
    export.add_argument("targets", nargs="*", metavar="MRN|DEST",
                        help="the MRN(s) of the patients to export; with --all, the folder to write into")
    export.add_argument("--all", action="store_true", help="the whole clinic (admins), as NDJSON files in DEST")
    export.add_argument("--out", metavar="FILE", help="write the Bundle to this new file (default: standard output)")
    export.set_defaults(run=cmd_fhir_export)
    importer = fhir.add_parser("import", help="import Bundles this product exported (all or nothing)")
    importer.add_argument("files", nargs="+", metavar="FILE")
    importer.set_defaults(run=cmd_fhir_import)
