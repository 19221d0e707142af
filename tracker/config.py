"""Configuration from the environment, read once per call so that tests can point it elsewhere.

- ``TRACKER_DATA_DIR``: where the SQLite file and the photo store live (default ``data/``).
- ``DATABASE_URL``: overrides the embedded SQLite database (PostgreSQL supported).
- ``TRACKER_STORE_URL``: ``s3://bucket/prefix`` keeps photos and batch documents in an S3-compatible object store
  (endpoint, region and credentials from the usual ``AWS_*`` variables: ``tracker.storage.configured``); unset,
  they live in folders under the data dir.
- ``TRACKER_MAX_UPLOAD_MB`` / ``TRACKER_MAX_MEGAPIXELS``: photo store limits (25 MB, 50 MP); the first is also
  the limit of a batch document and of an import spreadsheet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    max_upload_bytes: int
    max_pixels: int
    store_url: str = ""

    @property
    def photo_dir(self) -> Path:
        return self.data_dir / "photos"


def settings() -> Settings:
    data_dir = Path(os.environ.get("TRACKER_DATA_DIR", "data")).resolve()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'tracker.db'}"
    return Settings(
        data_dir=data_dir,
        database_url=url,
        max_upload_bytes=int(float(os.environ.get("TRACKER_MAX_UPLOAD_MB", "25")) * 1024 * 1024),
        max_pixels=int(float(os.environ.get("TRACKER_MAX_MEGAPIXELS", "50")) * 1_000_000),
        store_url=os.environ.get("TRACKER_STORE_URL", "").strip(),
    )
