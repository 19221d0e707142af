"""Aligned before/after pairs as derived data: the later photo registered onto the earlier one
(``tracker.photos.alignment``), kept in the ``derived`` store area so that a pair is aligned once, not at every
page run.

An aligned copy never replaces anything: the original upload and its display copy stay as they are, and the copy
can be made again from them at any time. Keys are derived from both photos' SHA-256 and the algorithm's version::

    aligned/<version>/<ab>/<earlier sha256>-<later sha256>.json   the alignment: score, transform, reason
    aligned/<version>/<ab>/<earlier sha256>-<later sha256>.jpg    the later display copy in the earlier's frame

so a new version of the method computes its own copies, and two patients' photos can never share one. The
``derived`` area is a folder of its own (``<data dir>/derived``, or ``prefix/derived/`` in an object store): the
consistency check, the backup and the restore deal with the photo and document stores only, so derived copies are
neither reported as orphans nor backed up (a restored installation computes them again when a pair is viewed).
The JSON is written after the JPEG, so a JSON that is present always has its JPEG.

``prune_aligned`` removes the copies no pair on record can use: those of an earlier method version, and those of a
photo no longer on record (a restore brought back an earlier state: the copy would be the only trace of a patient
photo the installation no longer holds). ``check`` and ``restore`` run it.
"""

from __future__ import annotations

import io
import json
import logging
import math
from dataclasses import dataclass

from PIL import Image
from sqlalchemy import select

from db import models
from tracker.database import reading
from tracker.photos.alignment import ALGORITHM_VERSION, Alignment, align, aligned_copy, as_matrix
from tracker.storage.blob_store import BlobStore
from tracker.storage.configured import blob_store

log = logging.getLogger(__name__)

DERIVED_QUALITY = 90  # the aligned copy is shown at up to 1280 px after fitting: keep it close to the display copy
# Scores from here up come with many agreeing matches and a clear resemblance: consecutive visits of demo patients
# and the bench's pairs score 0.9–1.0. Between ALIGNED_AT (0.6) and this, the fit holds but on less evidence.
GOOD_AT = 0.85


@dataclass(frozen=True)
class PairAlignment:
    """How the later photo of a before/after pair was lined up on the earlier one.

    ``score``: 0…1 (``tracker.photos.alignment``); ``aligned``: whether the pair is shown aligned (otherwise as
    taken); ``words``: what the page says about it; ``turned_degrees``/``scale``: the turn (degrees, clockwise on
    screen) and enlargement applied to the later photo to line it up.
    """

    score: float
    aligned: bool
    words: str
    turned_degrees: float
    scale: float


@dataclass(frozen=True)
class RegisteredPair:
    """The later display image, in the earlier one's frame when aligned (else as taken), and how it was done."""

    later_image: Image.Image
    alignment: PairAlignment


def pair_key(earlier_sha256: str, later_sha256: str, suffix: str) -> str:
    """
    >>> pair_key("ab" + "0" * 62, "cd" + "1" * 62, "json")[:40]
    'aligned/similarity-akaze-1/ab/ab00000000'
    """
    return f"aligned/{ALGORITHM_VERSION}/{earlier_sha256[:2]}/{earlier_sha256}-{later_sha256}.{suffix}"


def prune_aligned(url: str | None = None, store: BlobStore | None = None) -> int:
    """Remove every aligned copy (JPEG and JSON) of another method version or of a pair whose earlier or later
    photo is not on record in the database at ``url`` (removed photos count as on record: their files stay);
    returns how many files were removed. Derived data: a copy that cannot be removed now is left for next time.
    Raises what the database or the store's listing raise."""
    with reading(url) as session:
        photo_sha256s = set(session.scalars(select(models.Photo.sha256).distinct()))
    store = store or blob_store("derived")
    removed = 0
    for key in list(store.keys("aligned/")):
        if key.endswith("/") or "//" in key:
            continue  # an object store's folder marker: no copy, and not a key the store can be asked to delete
        parts = key.split("/")
        pair = parts[-1].rsplit(".", 1)[0].split("-") if len(parts) == 4 else []
        current = len(pair) == 2 and parts[1] == ALGORITHM_VERSION
        if current and pair[0] in photo_sha256s and pair[1] in photo_sha256s:
            continue
        try:
            store.delete(key)
            removed += 1
        except Exception as error:  # derived data: tried again at the next check
            log.warning("aligned copy %s not removed [%s: %s]", key, type(error).__name__, error)
    return removed


def registered_pair(earlier: models.Photo, earlier_image: Image.Image, later: models.Photo,
                    later_image: Image.Image, store: BlobStore | None = None) -> RegisteredPair:
    """Register ``later_image`` (the later photo's display copy) onto ``earlier_image``, reusing a stored result.

    A result that cannot be stored (a full disk, an object store that does not answer) is still shown: the copy
    is derived data, and the next view tries again. Never raises for the photos' content.
    """
    store = store or blob_store("derived")
    found = _stored(store, earlier.sha256, later.sha256)
    if found is not None:
        alignment, copy = found
    else:
        alignment = align(earlier_image, later_image)
        encoded = _jpeg(aligned_copy(earlier_image, later_image, alignment)) if alignment.aligned else None
        _keep(store, earlier.sha256, later.sha256, alignment, encoded)
        copy = _decoded(encoded) if encoded else None  # as stored: every view of the pair shows the same pixels
    shown = copy if copy is not None and alignment.aligned else later_image
    return RegisteredPair(shown, _described(alignment))


def _stored(store: BlobStore, earlier: str, later: str) -> tuple[Alignment, Image.Image | None] | None:
    try:
        record = json.loads(store.get(pair_key(earlier, later, "json")))
        alignment = Alignment(as_matrix(record["transform"]), float(record["score"]), bool(record["aligned"]),
                              str(record.get("reason", "")))
        if not alignment.aligned:
            return alignment, None
        return alignment, _decoded(store.get(pair_key(earlier, later, "jpg")))
    except KeyError:
        return None  # not computed yet
    except Exception as error:  # a damaged derived file is computed again, never shown or trusted
        log.warning("aligned pair %s… not read, computing it again [%s: %s]", earlier[:12], type(error).__name__, error)
        return None


def _keep(store: BlobStore, earlier: str, later: str, alignment: Alignment, copy: bytes | None) -> None:
    record = {"transform": [list(row) for row in alignment.transform], "score": alignment.score,
              "aligned": alignment.aligned, "reason": alignment.reason}
    try:
        if copy is not None:
            store.put(pair_key(earlier, later, "jpg"), copy)
        store.put(pair_key(earlier, later, "json"), json.dumps(record).encode())
    except Exception as error:  # derived data: shown anyway, and computed again next time
        log.warning("aligned pair %s… not stored [%s: %s]", earlier[:12], type(error).__name__, error)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=DERIVED_QUALITY)
    return buffer.getvalue()


def _decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _described(alignment: Alignment) -> PairAlignment:
    (a, _, _), (c, _, _), _ = alignment.transform
    # + 0.0 turns a rounded −0.0 into 0.0, which the page would otherwise show as "turned −0.0°"
    turned, scale = round(math.degrees(math.atan2(c, a)), 1) + 0.0, math.hypot(a, c)
    score = alignment.score
    if not alignment.aligned:
        words = f"The photos could not be lined up reliably, so both are shown as taken. {alignment.reason}"
    elif score >= GOOD_AT:
        words = f"The later photo was lined up on the earlier one: good alignment (score {score:.2f} of 1)."
    else:
        words = (f"The later photo was lined up on the earlier one, on less evidence than usual (score {score:.2f} "
                 "of 1): check that the two show the same spots before comparing details.")
    return PairAlignment(score, alignment.aligned, words, turned, round(scale, 3))
