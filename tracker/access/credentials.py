"""What an account's username and password must be, and how a password is hashed and checked (argon2).

A password has ``MIN_PASSWORD_LENGTH`` to ``PASSWORD_MAX`` characters and is not a common one; a username follows
``USERNAME_RULE`` once normalised (``normalize_username``), and is none of the names the demo clinic and the set-up
write as authors.
"""

from __future__ import annotations

import string
import unicodedata
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tracker.errors import ValidationError

MIN_PASSWORD_LENGTH = 10
# The longest password accepted (the forms' max_chars too). Hashing cost grows with length, so a sign-in
# hashes at most one character more than this: a longer password can never be right anyway.
PASSWORD_MAX = 256

_hasher = PasswordHasher()
# Verifying against a hash with the same parameters keeps every refusal as slow as a checked guess.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(
        line.strip().lower() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    )


def check_password_policy(password: str, username: str = "") -> None:
    """The one password policy of every path (create, change, the command line): length, no control
    characters (a CR, NUL or tab pasted or piped along could never be typed into a browser's password
    field), nor common passwords."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        raise ValidationError("The password may not contain control characters (line breaks, tabs, NUL…).")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > PASSWORD_MAX:
        raise ValidationError(f"The password may have at most {PASSWORD_MAX} characters.")
    lowered = password.lower()
    if lowered in common_passwords() or (username and lowered == username.lower()):
        raise ValidationError("This password is too common or too easy to guess; choose another.")


USERNAME_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "._-@")
USERNAME_RULE = ("A username has 3–80 characters: letters a–z, digits and . _ - @, beginning with a letter or a "
                 "digit.")
# Names that the demo clinic and the set-up write as authors (``created_by``, the audit trail): an account of
# that name would pass for them. The demo accounts' own names are added (``reserved_usernames``).
AUTHOR_NAMES = frozenset({"demo", "system"})


def normalize_username(username: str | None) -> str:
    """A username as typed (sign-in, creation, every admin command) the way it is stored: NFKC, so that
    full-width or other compatibility forms ('ＢＯＳＳ') are their plain letters ('boss'), trimmed, lower case.

    >>> normalize_username(" ＢＯＳＳ ")
    'boss'
    """
    return unicodedata.normalize("NFKC", username or "").strip().lower()


def reserved_usernames() -> frozenset[str]:
    from tracker.access.demo_accounts import DEMO_ACCOUNTS  # it builds on this module

    return AUTHOR_NAMES | {name for name, _, _ in DEMO_ACCOUNTS}


def _clean_username(username: str, is_demo: bool = False) -> str:
    """The stored form of a new account's username; refuses look-alikes: only ASCII letters, digits and
    ``. _ - @`` after normalising ('bоss' with a Cyrillic о is refused, not a second 'boss'), and never a
    name reserved for the demo accounts or the authors of demo and set-up rows."""
    name = normalize_username(username)
    if not (3 <= len(name) <= 80) or not set(name) <= USERNAME_CHARACTERS or not name[0].isalnum():
        raise ValidationError(USERNAME_RULE)
    if not is_demo and name in reserved_usernames():
        raise ValidationError(f"The username {name!r} is reserved (demo accounts and demo data); choose another.")
    return name


def _verifies(password_hash: str, password: str) -> bool:
    try:
        # Bytes, so that a string no policy allows (a lone surrogate) is checked, and refused, like any other.
        return _hasher.verify(password_hash, password[:PASSWORD_MAX + 1].encode("utf-8", "surrogatepass"))
    except (VerificationError, InvalidHashError):
        return False
