"""Passwords and tokens (design.md §7); the login throttle is a cluster seam (polyim.cluster.base.Throttle).

Passwords are hashed with argon2id over ``md5hex(password)`` because TeamTalk clients only ever send
the MD5 hex of the password; every other protocol's plaintext is normalised the same way, so one
stored hash serves all five. Tokens are HMAC-SHA256 signed and carry uid, device and expiry.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
TOKEN_PREFIX = "pim1."

# OWASP's argon2id minimum (19 MiB, t=2, p=1): strong enough for stored hashes, fast enough (~20 ms)
# that a reconnect storm is bounded by tokens rather than by hashing.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def md5hex(password: str) -> str:
    return hashlib.md5(password.encode("utf-8")).hexdigest()


def normalise(password: str, *, is_md5: bool = False) -> str:
    """The string that is actually hashed: the MD5 hex of the plaintext (or the MD5 hex as given)."""
    return password.lower() if is_md5 and _MD5_HEX.match(password.lower()) else md5hex(password)


def hash_password(password: str) -> str:
    return _HASHER.hash(normalise(password))


@functools.cache
def dummy_hash() -> str:
    """A hash no password matches, verified against for unknown accounts to keep login timing equal."""
    return _HASHER.hash(secrets.token_hex(16))


def verify_normalised(stored: str, normalised: str) -> bool:
    try:
        return _HASHER.verify(stored, normalised)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class TokenClaims:
    uid: int
    device: str
    expires: int


class TokenSigner:
    """``pim1.<b64(uid|device|expires)>.<b64(hmac)>``; anything malformed simply fails to verify."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, uid: int, device: str, ttl_s: int, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + ttl_s)
        body = f"{uid}|{device}|{expires}".encode()
        return TOKEN_PREFIX + _b64(body) + "." + _b64(self._mac(body))

    def verify(self, token: str, now: float | None = None) -> TokenClaims | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        try:
            body_b64, mac_b64 = token[len(TOKEN_PREFIX) :].split(".")
            body = _unb64(body_b64)
            if not hmac.compare_digest(_unb64(mac_b64), self._mac(body)):
                return None
            uid_s, device, expires_s = body.decode().split("|")
            claims = TokenClaims(int(uid_s), device, int(expires_s))
        except (ValueError, UnicodeDecodeError):
            return None
        current = now if now is not None else time.time()
        return claims if claims.expires > current else None

    def derived(self, purpose: str) -> TokenSigner:
        """A signer for tokens that are not logins (a sync page, say): its key is derived from this
        one's and ``purpose``, so such a token never verifies as a login or as another purpose's."""
        return TokenSigner(hmac.new(self._secret, b"purpose:" + purpose.encode(), hashlib.sha256).digest())

    @staticmethod
    def looks_like_token(value: str) -> bool:
        return value.startswith(TOKEN_PREFIX)

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
