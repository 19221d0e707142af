"""Blobs as objects in an S3-compatible object store (AWS S3, OpenStack Swift's s3api, MinIO, Ceph RGW).

Keys are object names under one prefix of one bucket (``<prefix>/originals/ab/abcd….jpg``), so the store
reads like the local folder in any S3 browser. Why the ``BlobStore`` promises hold here:

- ``put`` is atomic: a single PUT becomes visible whole or not at all; a blob larger than ``part_bytes``
  goes up as a multipart upload, which becomes visible only when it is completed. Until then it is an
  *incomplete multipart upload*: the store's ``partial_writes`` (named ``<key>?uploadId=<id>``), which
  ``discard_partial`` aborts. Each PUT and part carries its MD5, so the server refuses a damaged body.
- ``get`` raises KeyError for a missing object; ``delete`` of a missing object succeeds (S3's own rule).
- ``keys`` pages through ListObjectsV2, which returns keys in UTF-8 byte order.

Any other failure (endpoint unreachable, credentials refused, bucket gone) raises ``StoreUnavailable``, a
``TrackerError`` whose message names the setting to check (the command line shows it; the app logs it and shows
users a plain "photos are unavailable"); never a botocore traceback.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

from botocore.exceptions import BotoCoreError, ClientError

from tracker.errors import TrackerError
from tracker.storage.blob_store import PartialWrite, checked_key

# 8 MiB parts: above S3's and Swift's 5 MiB minimum, and a 25 MB upload (the largest photo the app takes) goes
# up in four parts, each retried on its own by botocore.
PART_BYTES = 8 * 1024 * 1024
_UPLOAD_ID = "?uploadId="
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_CREDENTIAL_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403",
                               "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed"})


class StoreUnavailable(TrackerError):
    """The object store cannot be used (unreachable, credentials refused, bucket missing); nothing was stored.
    The message (``describe_failure``) is for an administrator: the app logs it and shows ``app_message``."""

    app_message = ("Photos are unavailable right now; nothing was saved. Try again later; if it persists, tell "
                   "your administrator (the server log says what to check).")


class S3Store:
    """Blobs as the objects of ``bucket`` under ``prefix`` (``""``, or a folder such as ``"clinic-a/photos"``).

    ``client`` is a boto3 S3 client (thread-safe; ``tracker.storage.configured`` makes one per process).
    ``where`` names the store in messages (``s3://bucket/prefix at http://endpoint``).
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "", *, part_bytes: int = PART_BYTES,
                 page_size: int = 1000, where: str | None = None):
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.part_bytes = part_bytes
        self.page_size = page_size  # keys per listing request; 1,000 is S3's most
        self.where = where or f"s3://{bucket}/{self.prefix}"

    def __repr__(self) -> str:
        return f"S3Store({self.where!r})"

    def _name(self, key: str) -> str:
        return self.prefix + checked_key(key)

    def put(self, key: str, data: bytes) -> None:
        name = self._name(key)
        if len(data) <= self.part_bytes:
            self._call("put_object", Key=name, Body=data, ContentMD5=_md5(data))
            return
        upload = self._call("create_multipart_upload", Key=name)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(data), self.part_bytes), start=1):
                chunk = data[start:start + self.part_bytes]
                answer = self._call("upload_part", Key=name, UploadId=upload, PartNumber=number, Body=chunk,
                                    ContentMD5=_md5(chunk))
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
            self._call("complete_multipart_upload", Key=name, UploadId=upload, MultipartUpload={"Parts": parts})
        except BaseException:
            # Best effort: what is not aborted now stays a partial write for the consistency check.
            with contextlib.suppress(StoreUnavailable, KeyError):
                self._call("abort_multipart_upload", Key=name, UploadId=upload)
            raise

    def get(self, key: str) -> bytes:
        answer = self._call("get_object", Key=self._name(key))
        try:
            return bytes(answer["Body"].read())
        except BotoCoreError as error:  # the connection dropped mid-body
            raise self._unavailable(error) from None

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=self._name(key))
        except KeyError:
            return False
        return True

    def delete(self, key: str) -> None:
        try:
            self._call("delete_object", Key=self._name(key))
        except KeyError:
            return  # some servers answer 404 where S3 answers 204

    def keys(self, prefix: str = "") -> Iterator[str]:
        pages = self._pages("list_objects_v2", Prefix=self.prefix + prefix)
        for page in pages:
            for entry in page.get("Contents", ()):
                yield entry["Key"][len(self.prefix):]

    def partial_writes(self) -> Iterator[PartialWrite]:
        for page in self._pages("list_multipart_uploads", Prefix=self.prefix):
            for upload in page.get("Uploads", ()):
                key = upload["Key"][len(self.prefix):]
                yield PartialWrite(f"{key}{_UPLOAD_ID}{quote(upload['UploadId'], safe='')}", upload["Initiated"])

    def discard_partial(self, name: str) -> None:
        key, separator, upload = name.partition(_UPLOAD_ID)
        if not separator or not upload:
            raise ValueError(f"not a partial write: {name!r}")
        try:
            self._call("abort_multipart_upload", Key=self._name(key), UploadId=unquote(upload))
        except KeyError:
            return  # completed or aborted since it was listed

    # --- talking to the server -------------------------------------------------------------------------------

    def _call(self, operation: str, **arguments: Any) -> Any:
        """The client's ``operation`` on this bucket; KeyError for a missing object or upload,
        StoreUnavailable for every other failure."""
        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **arguments)
        except ClientError as error:
            if _code(error) in _MISSING_CODES or _code(error) == "NoSuchUpload":
                raise KeyError(arguments.get("Key", "")) from None
            raise self._unavailable(error) from None
        except BotoCoreError as error:
            raise self._unavailable(error) from None

    def _pages(self, operation: str, **arguments: Any) -> Iterator[dict[str, Any]]:
        try:
            pages = self.client.get_paginator(operation).paginate(
                Bucket=self.bucket, PaginationConfig={"PageSize": self.page_size}, **arguments)
            yield from pages
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(error) from None

    def _unavailable(self, error: Exception) -> StoreUnavailable:
        return StoreUnavailable(describe_failure(error, self.where, self.bucket))


def describe_failure(error: Exception, where: str, bucket: str) -> str:
    """One line for an admin: what went wrong with the store at ``where`` and which setting to check."""
    if isinstance(error, ClientError):
        code = _code(error)
        if code == "NoSuchBucket" or (code in _MISSING_CODES and error.operation_name == "HeadBucket"):
            return (f"The bucket {bucket!r} of TRACKER_STORE_URL does not exist on the object store ({where}): "
                    "create it, or correct TRACKER_STORE_URL.")
        if code in _CREDENTIAL_CODES:
            return (f"The object store ({where}) refused access to bucket {bucket!r} ({code}): check "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and the bucket's permissions.")
        message = error.response.get("Error", {}).get("Message") or code
        return f"The object store ({where}) answered {code}: {message}."
    name = type(error).__name__
    if name == "NoCredentialsError" or name == "PartialCredentialsError":
        return (f"No credentials for the object store ({where}): set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE).")
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError", "ReadTimeoutError",
                "ProxyConnectionError", "SSLError"):
        return (f"The object store ({where}) cannot be reached: {error}. Check AWS_ENDPOINT_URL (or "
                "AWS_ENDPOINT_URL_S3) and that the store is running.")
    return f"The object store ({where}) failed: {error}."


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _md5(data: bytes) -> str:
    """Content-MD5 (base64): the server checks the body against it."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
