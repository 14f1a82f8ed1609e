"""The owner PIN, stored as a salted scrypt hash (a slow KDF: a copied store does not give the PIN away
to a quick guess over every 4–8 digit PIN). Compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SETTING_KEY = "owner_pin"
# n=2**14, r=8, p=1: ~16 MB and a few tens of ms per check, the interactive-login setting of the scrypt paper.
_N, _R, _P = 2**14, 8, 1


def valid_pin(pin: str) -> bool:
    return pin.isdigit() and 4 <= len(pin) <= 8


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        actual = hashlib.scrypt(pin.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
