"""``python -m tracker photo count IMAGE --field-mm WIDTH HEIGHT [--json]``: hairs on a close-up, from its file.

No database: the file is read as the app reads an upload (``tracker.photos.hair_count.count_upload``), so a
script gets the count a clinician would see before correcting it. ``--json`` prints
``{"count": hairs, "density_per_cm2": hairs/cm², "terminal": hairs or null, "vellus": hairs or null}``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any


def register_count(photo_subparsers: Any) -> None:
    """Add ``count`` to the ``photo`` group (an ``argparse`` sub-parsers object)."""
    count = photo_subparsers.add_parser(
        "count", help="count the hairs emerging in a trichoscopy close-up (hairs/cm², terminal and vellus)")
    count.add_argument("image", help="the close-up: JPEG, PNG, WebP or HEIC, as the device took it (not cropped)")
    count.add_argument("--field-mm", nargs=2, type=_millimetres, required=True, metavar=("WIDTH", "HEIGHT"),
                       help="the size in mm of the whole frame (the device's field of view)")
    count.add_argument("--json", action="store_true", help="print the documented JSON")
    # Reads a file only: no database is created or migrated.
    count.set_defaults(run=cmd_count, initializes=False, uses_store=False)


def cmd_count(args: argparse.Namespace) -> int:
    # Imported here: OpenCV and scikit-image take a second to load, which no other command should wait for.
    from tracker.photos.hair_count import count_upload
    from tracker.photos.photo_commands import quiet_intake_log, read_photo_file

    quiet_intake_log()
    path = Path(args.image)
    found = count_upload(read_photo_file(path), tuple(args.field_mm), path.name)
    if args.json:
        print(json.dumps({"count": found.count, "density_per_cm2": round(found.density_per_cm2, 1),
                          "terminal": found.terminal, "vellus": found.vellus}))
        return 0
    width, height = found.field_mm
    kinds = (f"; terminal {found.terminal}, vellus {found.vellus}" if found.terminal is not None
             else "; terminal and vellus not told apart at this resolution")
    print(f"{found.count} hairs in {width:g} × {height:g} mm ({width * height / 100:g} cm²): "
          f"{found.density_per_cm2:.1f} hairs/cm²{kinds}.")
    return 0


def _millimetres(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size in mm (e.g. 10 or 7.5)") from None
    if "_" in text or not math.isfinite(value):  # float() takes "1_0" as 10: a typo, not a size
        raise argparse.ArgumentTypeError(f"{text!r} is not a size in mm (e.g. 10 or 7.5)")
    return value
