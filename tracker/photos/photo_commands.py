"""``python -m tracker photo …``: commands that read photo files directly, without the database."""

from __future__ import annotations

from typing import Any

from tracker.photos.count_command import register_count


def register(subparsers: Any) -> None:
    """Add the ``photo`` group and its commands to the command line's sub-parsers."""
    photo = subparsers.add_parser("photo", help="photo files: hair counts on close-ups")
    commands = photo.add_subparsers(dest="photo_command", required=True)
    register_count(commands)
