"""Sensor tokens and user passwords: what is stored is a hash, never the secret.

A sensor token is 32 random bytes, URL-safe base64, prefixed `tcs_` so it is recognisable in a
leaked file; the hub keeps its SHA-256 (a random 256-bit secret needs no slow hash). Passwords
are hashed with scrypt (n=2^14, r=8, p=1) and a random salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_token() -> str:
    return "tcs_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.strip().encode()).digest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=1 << 14, r=8, p=1, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        kind, salt64, digest64 = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    salt, digest = base64.b64decode(salt64), base64.b64decode(digest64)
    got = hashlib.scrypt(password.encode(), salt=salt, n=1 << 14, r=8, p=1, dklen=32)
    return hmac.compare_digest(got, digest)
