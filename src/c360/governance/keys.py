"""Governance secrets: the salt of hashed columns. From the environment or a secret file
(``governance.hash_salt``) in production; in dev a random salt is made once and kept in
``<home>/secrets/hash_salt`` (mode 0600), so hashes stay stable across runs without anyone
having to set one up. The salt never appears in a view's text, a log line or an error."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

from c360.config import Settings
from c360.errors import C360Error


def dev_secret(settings: Settings, name: str, make: Callable[[], str]) -> str:
    """A dev-only secret kept in ``<home>/secrets/<name>`` (mode 0600), made by ``make`` the first
    time; O_EXCL: two processes starting at once keep the first one's value."""
    path = settings.home / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(make())
    return path.read_text()


def hash_salt(settings: Settings) -> str:
    """The salt of hashed columns (module doc)."""
    if settings.governance.hash_salt is not None:
        value = settings.governance.hash_salt.get_secret_value()
        if len(value) < 16:
            raise C360Error("governance.hash_salt is shorter than 16 characters", where="governance",
                            fix="set C360_GOVERNANCE__HASH_SALT to a long random string")
        return value
    if settings.profile == "prod":
        raise C360Error("no hash salt set: profile prod needs governance.hash_salt", where="governance",
                        fix="set C360_GOVERNANCE__HASH_SALT (or a file of that name in C360_SECRETS_DIR)")
    return dev_secret(settings, "hash_salt", lambda: secrets.token_hex(32)).strip()
