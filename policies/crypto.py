"""Secrets at rest: Fernet tokens under a MultiFernet built from EGRESSUI_ENCRYPTION_KEY.

The first key encrypts; every listed key decrypts, so a new key can be put in front, the data
re-encrypted (`manage.py rotate_encryption_key`), and the old key dropped afterwards.
"""

import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise ImproperlyConfigured(
                f"EGRESSUI_ENCRYPTION_KEY: key #{position} is not a valid Fernet key (32 url-safe base64 bytes)."
            ) from None
    return MultiFernet(fernets)


def multifernet() -> MultiFernet:
    return _multifernet(tuple(settings.EGRESSUI_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return multifernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return multifernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key in EGRESSUI_ENCRYPTION_KEY "
            "(was a key removed before `rotate_encryption_key` ran?)."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a stored token under the first (current) key."""
    return multifernet().rotate(token.encode("ascii")).decode("ascii")


def new_secret(prefix: str) -> str:
    """A random bearer secret with a recognisable prefix (helps secret scanners)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    """Bearer secrets carry 256 random bits, so one SHA-256 is enough (no salt, no stretching) and
    keeps lookups by hash O(1); it does not depend on SECRET_KEY, so rotating that keeps tokens valid."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def constant_time_equal(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode("utf-8"), right.encode("utf-8"))
