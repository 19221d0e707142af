"""The one place that chooses where photos and batch documents are kept (``TRACKER_STORE_URL``).

- unset (the embedded default): folders under the data dir, ``<data dir>/photos`` and ``<data dir>/documents``
  (``LocalDirectoryStore``);
- ``s3://bucket/prefix``: the objects ``prefix/photos/…`` and ``prefix/documents/…`` of an S3-compatible bucket
  (``S3Store``). boto3 reads the rest from its usual places: the endpoint from ``AWS_ENDPOINT_URL_S3`` or
  ``AWS_ENDPOINT_URL`` (unset: AWS itself), the region from ``AWS_REGION``/``AWS_DEFAULT_REGION``, the
  credentials from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` or an instance role.

``check_store`` runs when the app (app.py) and every command (``tracker.operations.cli``) start, beside
``tracker.database.initialize``: a setting that cannot work stops them with one message naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from tracker.config import settings
from tracker.errors import ValidationError
from tracker.storage.blob_store import BlobStore, LocalDirectoryStore

Area = Literal["photos", "documents", "derived"]
SETTING = "TRACKER_STORE_URL"
_ENDPOINT_SETTINGS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class BucketLocation:
    """Where ``s3://bucket/prefix`` points: the bucket, and the prefix without slashes at its ends.

    >>> BucketLocation.parse("s3://clinic-photos/chain/clinic-a/")
    BucketLocation(bucket='clinic-photos', prefix='chain/clinic-a')
    """

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> BucketLocation:
        """Raises ValidationError naming ``TRACKER_STORE_URL`` for any other scheme or a URL without a bucket."""
        scheme, separator, rest = url.partition("://")
        if not separator or scheme.lower() != "s3":
            raise ValidationError(
                f"{SETTING} {url!r} is not a store this product knows: set it to s3://bucket/prefix for an "
                "S3-compatible object store, or leave it unset for the folders under the data dir.")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValidationError(f"{SETTING} {url!r} names no bucket: set it to s3://bucket/prefix.")
        return cls(bucket, prefix.strip("/"))

    def area(self, area: Area) -> str:
        return f"{self.prefix}/{area}" if self.prefix else area


def blob_store(area: Area) -> BlobStore:
    """The configured store of ``area`` (photos, batch documents, or ``derived``: copies recomputable from the photos,
    such as aligned before/after pairs, which check, backup and restore leave out). Raises ValidationError when
    ``TRACKER_STORE_URL`` cannot be understood (``check_store`` also tries the store itself)."""
    url = settings().store_url
    if not url:
        data_dir = settings().data_dir
        return LocalDirectoryStore(data_dir / area)
    from tracker.storage.s3_store import S3Store  # botocore loads only for a clinic that uses it

    location = BucketLocation.parse(url)
    client, endpoint = _client(_aws_settings())
    prefix = location.area(area)
    return S3Store(client, location.bucket, prefix, where=f"s3://{location.bucket}/{prefix} at {endpoint}")


def check_store() -> None:
    """Stop with one message naming the setting when the configured object store cannot be used: unknown scheme
    or no bucket (ValidationError), unreachable endpoint, refused credentials, missing bucket (``StoreUnavailable``:
    the app shows users its plain ``app_message`` and logs this one). The local
    folders need no check (the data dir is made when the database is)."""
    url = settings().store_url
    if not url:
        return
    from tracker.storage.s3_store import StoreUnavailable, describe_failure

    location = BucketLocation.parse(url)
    client, endpoint = _client(_aws_settings())
    try:
        client.head_bucket(Bucket=location.bucket)
    except Exception as error:  # every botocore failure becomes one line naming the setting to check
        where = f"{SETTING}={url} at {endpoint}"
        raise StoreUnavailable(describe_failure(error, where, location.bucket)) from None


def _aws_settings() -> tuple[tuple[str, str], ...]:
    """The AWS variables, as the key of the client cache: a test or a restart with other values gets a new client."""
    return tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_")))


@lru_cache(maxsize=8)
def _client(aws: tuple[tuple[str, str], ...]) -> tuple[Any, str]:
    """One boto3 S3 client per set of AWS variables (making one takes ~50 ms; a client is thread-safe), and the
    endpoint it talks to, for messages."""
    import boto3  # imported here: a clinic on the local folder never loads it (~0.3 s)
    from botocore.config import Config

    named = dict(aws)
    endpoint_setting = next((name for name in _ENDPOINT_SETTINGS if named.get(name)), None)
    config = Config(
        # Checksums only where S3 requires them: S3-compatible servers (Swift among them) do not all know the
        # newer CRC trailers; each PUT carries its Content-MD5 instead (S3Store).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # An endpoint of one's own (Swift, MinIO, Ceph) is addressed by path: its buckets have no DNS names.
        s3={"addressing_style": "path" if endpoint_setting else "auto"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
    )
    try:
        client = boto3.session.Session().client("s3", config=config)
    except Exception as error:  # e.g. "Invalid endpoint: htp:/x", an unknown profile
        named_setting = endpoint_setting or "AWS_PROFILE / AWS_REGION"
        raise ValidationError(f"The object store of {SETTING} cannot be set up ({error}): check "
                              f"{named_setting}.") from None
    return client, str(client.meta.endpoint_url)

