"""The installation's signing key: HMAC-SHA256 over backup manifests and audit-trail anchors.

A hash alone proves nothing against someone who can rewrite the data: they recompute it. A keyed hash
(HMAC) can only be recomputed with the key, so the key lives outside what it protects: in
``TRACKER_BACKUP_KEY`` (any text of at least 32 characters, e.g. ``openssl rand -hex 32``), or else in
``<data dir>/backup.key``, created on first use with mode 0600. Whoever keeps a copy of the key apart from the
server (a password manager, a sealed envelope) can later prove a backup or an anchor genuine.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from tracker.config import settings
from tracker.errors import ValidationError

KEY_VARIABLE = "TRACKER_BACKUP_KEY"
KEY_FILE_NAME = "backup.key"
MIN_KEY_LENGTH = 32


@dataclass(frozen=True)
class SigningKey:
    """The key's bytes, where it came from (for messages), and whether this call created it."""

    secret: bytes
    source: str
    created: bool = False

    def sign(self, payload: bytes) -> str:
        """Hex HMAC-SHA256 of ``payload`` (64 characters)."""
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()

    def verifies(self, payload: bytes, signature: str) -> bool:
        """Whether ``signature`` is this key's HMAC of ``payload`` (constant-time comparison)."""
        return isinstance(signature, str) and hmac.compare_digest(self.sign(payload), signature)

    def advice(self) -> str:
        """The one-time message printed when the key file was just created."""
        return (f"A new signing key was created in {self.source} (mode 0600). Keep a copy of it apart from this "
                f"server and its backups (a password manager, another machine): without it a backup or an "
                f"audit anchor cannot be checked, and whoever holds it can forge them.")


def key_path(data_dir: Path | None = None) -> Path:
    return (data_dir or settings().data_dir) / KEY_FILE_NAME


# What an installation that has signed with its key keeps in its data dir: a new key would make all of it
# unverifiable, so a missing key is then an error, never replaced (tracker.access.audit_anchor,
# tracker.operations.backup).
SIGNED_STATE = ("audit-anchors.jsonl", "restore-journal.json")
FOR_A_BACKUP = "the key of the installation that wrote the backup"
FOR_ANCHORS = "the key that signed this installation's audit anchors"


def signing_key(*, create: bool = True, data_dir: Path | None = None, needed_for: str = FOR_A_BACKUP) -> SigningKey:
    """The key from ``TRACKER_BACKUP_KEY`` or the key file, creating the file when ``create`` and it is missing
    and the data dir holds nothing signed yet (no anchor, no restore under way).

    Raises ValidationError when the variable is too short, the file is unreadable or malformed, or there is no
    key and ``create`` is False (restoring on a new server needs the key the backup was signed with:
    ``needed_for`` says which key the message asks for), or the key file is missing where anchors were
    signed with it (a new key would make every older anchor look forged and every older backup unrestorable).
    """
    from_environment = os.environ.get(KEY_VARIABLE)
    if from_environment is not None:
        if len(from_environment.strip()) < MIN_KEY_LENGTH:
            raise ValidationError(f"{KEY_VARIABLE} must hold at least {MIN_KEY_LENGTH} characters "
                                  f"(for instance the output of `openssl rand -hex 32`).")
        return SigningKey(from_environment.strip().encode(), KEY_VARIABLE)
    path = key_path(data_dir)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            raise ValidationError(
                f"No signing key: set {KEY_VARIABLE} or put the key file at {path} ({needed_for}).") from None
        if _has_signed_state(path.parent):
            raise ValidationError(
                f"The signing key {path} is missing but this installation has signed anchors: put the old key "
                f"back (or set {KEY_VARIABLE}). No new key was made: it would make every older anchor look forged "
                f"and every older backup unrestorable.") from None
        return _create_key_file(path)
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError(f"The signing key file {path} cannot be read ({error}).") from None
    if len(text) < MIN_KEY_LENGTH:
        raise ValidationError(f"The signing key file {path} is damaged (shorter than {MIN_KEY_LENGTH} characters).")
    return SigningKey(text.encode(), str(path))


def _has_signed_state(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds anchors (an anchor file not empty; anything else by that name counts too)
    or a restore journal."""
    for name in SIGNED_STATE:
        try:
            status = (data_dir / name).lstat()
        except FileNotFoundError:
            continue
        except OSError:
            return True
        if status.st_size or not stat.S_ISREG(status.st_mode):
            return True
    return False


def _create_key_file(path: Path) -> SigningKey:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = secrets.token_hex(32)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails when the name exists: two processes starting together keep one key, whole.
        os.link(temporary, path)
    except FileExistsError:
        return signing_key(create=False, data_dir=path.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return SigningKey(text.encode(), str(path), created=True)
