"""``python -m tracker export clinic --out FILE.xlsx``: every live patient's data in one workbook, for admins
(``tracker.exchange.clinic_export``), written beside the target as ``.NAME.partial`` (mode 0600) and renamed at
the end, so the file exists only complete; an existing file is never replaced."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from tracker.errors import ValidationError


def cmd_export_clinic(args: argparse.Namespace) -> int:
    from tracker.access.actors import command_line_actor
    from tracker.exchange.clinic_export import export_clinic

    target = Path(args.out)
    if target.suffix.lower() != ".xlsx":
        raise ValidationError(f"{target} does not end in .xlsx: the clinic export is an XLSX workbook.")
    if os.path.lexists(target):
        raise ValidationError(f"{target} already exists: an export never replaces a file; choose another name.")
    if not target.parent.is_dir():
        raise ValidationError(f"{target.parent} is not a folder: create it first, or choose another place.")
    partial = target.with_name(f".{target.name}.partial")
    try:
        # O_EXCL: a file already there (left by a killed export, or someone else's with its owner and mode) is
        # never written into, nor removed.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise ValidationError(f"{partial} already exists (an interrupted export, or another user's file): "
                              "remove it, or choose another name.") from None
    except OSError as error:
        raise ValidationError(f"The clinic export could not be written to {target}: {error.strerror or error}. "
                              "No file was left behind.") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            written = export_clinic(command_line_actor("export clinic"), handle)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ValidationError(f"The clinic export could not be written to {target}: {error.strerror or error}. "
                              "No file was left behind.") from None
    except BaseException:
        partial.unlink(missing_ok=True)  # refused, busy or interrupted: no half-written workbook stays
        raise
    print(f"Clinic data written to {target}: {written.summary()} {target.stat().st_size:,} bytes.")
    return 0


def _publish(partial: Path, target: Path) -> None:
    """Give the finished workbook its name without ever replacing a file that appeared there meanwhile: a hard
    link fails when the name is taken (a rename would replace it); where the file system has no hard links, the
    name is checked once more and the file renamed."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise ValidationError(f"{target} appeared while the export was written: an export never replaces a file; "
                              "choose another name.") from None
    except OSError:
        if os.path.lexists(target):
            raise ValidationError(f"{target} appeared while the export was written: an export never replaces a "
                                  "file; choose another name.") from None
        os.replace(partial, target)
        return
    partial.unlink()


def register(subparsers: Any) -> None:
    """The ``export`` command and its ``clinic`` subcommand, on ``python -m tracker``'s subparsers."""
    export = subparsers.add_parser("export", help="data exports").add_subparsers(
        dest="export_command", required=True)
    clinic = export.add_parser("clinic", help="every live patient's data as a new XLSX workbook (one sheet per "
                                              "kind: patients, visits, densities, scores, sessions, therapies, "
                                              "photos, corrections, removals)")
    clinic.add_argument("--out", required=True, metavar="FILE.xlsx", help="the workbook to create (never replaced)")
    clinic.set_defaults(run=cmd_export_clinic)
