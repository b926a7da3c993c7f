"""Who is calling the API: an API key (``X-API-Key``, or ``Authorization: Bearer <key>``) or a
bearer token (a JWT signed HS256 with ``serving.token_secret``, made by ``c360 serve token``),
each mapped to one c360 role. Every response is then computed through that role's views.

Keys come from ``serving.api_keys`` (env or secret file: ``role=key,role=key``). In dev, when none
are set, each role has a stable key derived from a random secret kept in
``<home>/secrets/api_master`` (0600) — ``c360 serve keys`` prints them. Keys are compared by their
SHA-256 digest, never logged; an unknown key and a missing one get the same 401.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt

from c360.config import Settings
from c360.errors import C360Error
from c360.governance.keys import dev_secret

ISSUER = "c360"
MIN_KEY_LENGTH = 24


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the role it acts as, how it proved it, and a non-secret id of
    the credential (a key's digest prefix, or a token's subject) for the access log."""

    role: str
    via: str
    subject: str


class AuthError(Exception):
    """Authentication failed (401) or the credential names no usable role (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def dev_keys(settings: Settings) -> dict[str, str]:
    """role -> its dev API key (module doc); stable across restarts of the same home."""
    master = dev_secret(settings, "api_master", lambda: secrets.token_hex(32)).strip()
    return {role: f"c360dev_{role}_{hmac.new(master.encode(), role.encode(), 'sha256').hexdigest()[:32]}"
            for role in sorted(settings.governance.roles)}


def configured_keys(settings: Settings) -> list[tuple[str, str]]:
    """(role, key) pairs: ``serving.api_keys``, or the dev keys when it is empty in dev."""
    raw = settings.serving.api_keys.get_secret_value() if settings.serving.api_keys else ""
    if not raw.strip():
        if settings.profile == "prod":
            return []
        return list(dev_keys(settings).items())
    pairs = []
    for item in raw.split(","):
        role, sep, key = item.strip().partition("=")
        if not sep or not role or not key:
            raise C360Error("serving.api_keys must be 'role=key,role=key'", where="serving.api_keys")
        if len(key) < MIN_KEY_LENGTH:
            raise C360Error(f"an API key of role {role} is shorter than {MIN_KEY_LENGTH} characters",
                            where="serving.api_keys", fix="use long random keys (e.g. `openssl rand -hex 24`)")
        pairs.append((role.strip(), key.strip()))
    return pairs


def token_secret(settings: Settings) -> str | None:
    """The bearer tokens' HMAC secret: ``serving.token_secret``, a dev secret in dev, else None."""
    if settings.serving.token_secret is not None:
        value = settings.serving.token_secret.get_secret_value()
        if len(value) < 32:
            raise C360Error("serving.token_secret is shorter than 32 characters", where="serving.token_secret")
        return value
    if settings.profile == "prod":
        return None
    return dev_secret(settings, "token_secret", lambda: secrets.token_hex(32)).strip()


def mint_token(settings: Settings, role: str, ttl_seconds: int, subject: str = "c360-cli") -> str:
    """A bearer token acting as ``role`` for ``ttl_seconds``."""
    secret = token_secret(settings)
    if secret is None:
        raise C360Error("no token secret configured", where="serving.token_secret",
                        fix="set C360_SERVING__TOKEN_SECRET (32+ characters)")
    if role not in settings.governance.roles:
        raise C360Error(f"unknown role {role!r}", where="governance.roles",
                        fix=f"use one of {', '.join(sorted(settings.governance.roles))}")
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "sub": subject, "role": role, "iat": now, "exp": now + ttl_seconds},
                      secret, algorithm="HS256")


class Authenticator:
    """Checks a request's credential and returns its Caller (module doc)."""

    def __init__(self, settings: Settings) -> None:
        roles = set(settings.governance.roles)
        self._keys: dict[bytes, str] = {}
        for role, key in configured_keys(settings):
            if role not in roles:
                raise C360Error(f"serving.api_keys names unknown role {role!r}", where="serving.api_keys",
                                fix=f"use one of {', '.join(sorted(roles))}")
            self._keys[_digest(key)] = role
        self._secret = token_secret(settings)
        self._roles = roles
        if not self._keys and self._secret is None:
            raise C360Error("the API has no credentials to accept", where="serving",
                            fix="set C360_SERVING__API_KEYS and/or C360_SERVING__TOKEN_SECRET")

    def caller(self, api_key: str | None, authorization: str | None) -> Caller:
        """The caller of a request with these headers; AuthError otherwise."""
        presented = api_key
        if presented is None and authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise AuthError(401, "use 'Authorization: Bearer <API key or token>' or an X-API-Key header")
            presented = value.strip()
        if not presented:
            raise AuthError(401, "missing credentials: send an X-API-Key header or 'Authorization: Bearer …'")
        digest = _digest(presented)
        role = self._keys.get(digest)
        if role is not None:
            return Caller(role, "api_key", digest.hex()[:12])
        if self._secret is not None and presented.count(".") == 2:
            try:
                claims = jwt.decode(presented, self._secret, algorithms=["HS256"], issuer=ISSUER,
                                    options={"require": ["exp", "iat", "role", "sub"]})
            except jwt.ExpiredSignatureError:
                raise AuthError(401, "the bearer token has expired") from None
            except jwt.InvalidTokenError:
                raise AuthError(401, "invalid API key or bearer token") from None
            role = str(claims["role"])
            if role not in self._roles:
                raise AuthError(403, f"the token's role {role!r} is not configured")
            return Caller(role, "token", str(claims["sub"])[:64])
        raise AuthError(401, "invalid API key or bearer token")
