"""``python -m tracker photo …``: the photo methods on image files, for scripts and for checking them on other
images. No database is opened: the commands read the files they are given and print.

``photo align BEFORE AFTER [--json]`` registers AFTER onto BEFORE with ``tracker.photos.alignment.align`` (the
function the before/after page calls) and prints the transform from AFTER's pixels to BEFORE's, in each file's own
upright pixels (EXIF orientation applied). Files are checked as an upload is (``tracker.photos.intake``); a refused
file prints the intake's one-line message on stderr and exits 1, as every command's refusal does.

The ``photo`` group is made by ``photo_group`` and each command added by a function of its own, so that other photo
commands join the group with one line in ``register``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.errors import ValidationError
from tracker.photos.count_command import register_count

if TYPE_CHECKING:  # OpenCV, numpy and the image decoders load only when a photo command runs, not for every command
    from PIL import Image

    from tracker.photos.alignment import Alignment
    from tracker.photos.intake import PreparedPhoto

# Exit status of a refused file: every command's (``tracker.operations.cli.main``); argparse's 2 is bad usage.
REFUSED = 1


def register(subparsers: Any) -> None:
    """Add the ``photo`` command group and its commands to ``python -m tracker``'s subparsers."""
    group = photo_group(subparsers)
    register_align(group)
    register_count(group)


def photo_group(subparsers: Any) -> Any:
    """The ``photo`` group's own subparsers, for each photo command to join."""
    photo = subparsers.add_parser("photo", help="photo methods on image files (no database needed)")
    return photo.add_subparsers(dest="photo_command", required=True)


def register_align(group: Any) -> None:
    command = group.add_parser(
        "align", help="register AFTER onto BEFORE (same view, two visits) and print the transform and score",
        description="Print the 3×3 matrix mapping AFTER's pixel coordinates (x right, y down, origin top-left, "
                    "upright after EXIF orientation) onto BEFORE's, and the alignment score (0–1).")
    command.add_argument("before", help="the earlier photo (JPEG, PNG, WebP or HEIC)")
    command.add_argument("after", help="the later photo of the same view")
    command.add_argument("--json", action="store_true",
                         help='print {"transform": [[a, b, tx], [c, d, ty], [g, h, 1]], "score": …, "aligned": …}')
    command.set_defaults(run=cmd_photo_align, initializes=False, uses_store=False)


def cmd_photo_align(args: argparse.Namespace) -> int:
    quiet_intake_log()
    try:
        result = align_files(Path(args.before), Path(args.after))
    except ValidationError as refused:
        print(f"error: {refused}", file=sys.stderr)
        return REFUSED
    if args.json:
        print(json.dumps({"transform": [list(row) for row in result.transform], "score": result.score,
                          "aligned": result.aligned}))
    else:
        print(describe(result))
    return 0


def align_files(before: Path, after: Path) -> Alignment:
    """Align two image files; the transform maps AFTER's upright pixels onto BEFORE's (full resolution).

    Both are read and checked as uploads are (size, format, damage: ``prepare_photo``), and aligned on their
    upright display copies (≤ 2048 px), the transform then scaled to each file's own pixels.
    Raises ValidationError naming the file for a missing, unreadable or refused file.
    """
    import numpy as np

    from tracker.photos.alignment import IDENTITY, Alignment, align, as_matrix

    first, second = _prepared(before), _prepared(after)
    first_shown, second_shown = _display(first), _display(second)
    found = align(first_shown, second_shown)
    if found.transform == IDENTITY and not found.aligned:
        return found  # no transform found: the identity, in any pixels (not one scaled from display to file)
    # Display pixels to the file's own: the display copy is the upright photo shrunk, each axis by its ratio.
    to_before = np.diag([first.width / first_shown.width, first.height / first_shown.height, 1.0])
    from_after = np.diag([second_shown.width / second.width, second_shown.height / second.height, 1.0])
    transform = as_matrix(to_before @ np.array(found.transform) @ from_after)
    return Alignment(transform, found.score, found.aligned, found.reason)


def describe(result: Alignment) -> str:
    """One line for a person: whether the pair lines up, the score, and the turn, scale and shift found.

    >>> from tracker.photos.alignment import Alignment
    >>> describe(Alignment(((0.0, -2.0, 10.0), (2.0, 0.0, -4.0), (0.0, 0.0, 1.0)), 0.81, True))
    'Aligned (score 0.81 of 1): AFTER maps onto BEFORE turned 90.0°, scaled ×2.000, moved (+10, -4) px.'
    """
    (a, _, tx), (c, _, ty), _ = result.transform
    motion = (f"AFTER maps onto BEFORE turned {math.degrees(math.atan2(c, a)):.1f}°, scaled ×{math.hypot(a, c):.3f}, "
              f"moved ({tx:+.0f}, {ty:+.0f}) px.")
    if result.aligned:
        return f"Aligned (score {result.score:.2f} of 1): {motion}"
    return f"Not aligned (score {result.score:.2f} of 1): {result.reason}"


def _prepared(path: Path) -> PreparedPhoto:
    from tracker.photos.intake import prepare_photo

    return prepare_photo(read_photo_file(path), path.name)


def read_photo_file(path: Path) -> bytes:
    """A photo file's bytes for the photo commands, read no further than one byte past the upload limit (a bigger
    file is then refused by the intake with its own message, having cost only that much memory). Raises
    ValidationError, in one line, for a missing file, a folder, or anything that is not a plain file (a device
    such as /dev/zero, a pipe), which could be read forever."""
    from tracker.config import settings

    try:
        if not stat.S_ISREG(path.stat().st_mode):
            if path.is_dir():
                raise ValidationError(f'"{path}" is a folder, not a photo file.')
            raise ValidationError(f'"{path}" is not a plain file (a device or a pipe): give a photo file.')
        with path.open("rb") as handle:
            return handle.read(settings().max_upload_bytes + 1)
    except FileNotFoundError:
        raise ValidationError(f'There is no file "{path}".') from None
    except OSError as error:
        raise ValidationError(f'The file "{path}" cannot be read: {error.strerror or error}.') from None


def quiet_intake_log() -> None:
    """The intake logs each refusal for the server's log; in a photo command the refusal is the command's one
    line on stderr, and Python's last-resort handler would print the log line too."""
    logging.getLogger("tracker.photos").addHandler(logging.NullHandler())


def _display(prepared: PreparedPhoto) -> Image.Image:
    from PIL import Image

    with Image.open(io.BytesIO(prepared.display_jpeg)) as image:
        return image.convert("RGB")
