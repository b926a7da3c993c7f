"""Column encryption at rest: catalog columns marked ``encrypted`` are written to the lake as
AES-256-GCM tokens and read back in clear only by the pipeline's models and by roles allowed to
decrypt (``decrypt: true``, admin by default).

A token is ``c360e1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>``: the key id travels with each
value, so keys rotate without rewriting old data (a new active key encrypts new writes; older keys
stay in the keyring until every table holding their tokens is rebuilt). The associated data is
the column's id (``gold.sentiment.text``), so a token copied into another column does not decrypt.

Keys come from ``governance.encryption_keys`` (env ``C360_GOVERNANCE__ENCRYPTION_KEYS`` or a secret
file: ``id=base64key,id2=base64key``; the active one is ``governance.encryption_key_id``, else the
last listed). In dev, a key is generated once into ``<home>/secrets/lake_keys`` (mode 0600); prod
requires the setting. Keys never appear in views, logs or errors.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from c360.errors import C360Error
from c360.governance.keys import dev_secret

PREFIX = "c360e1"
DECRYPT_FUNCTION = "c360_decrypt"
_NONCE = 12


def _parse_keys(text: str, where: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in text.replace("\n", ",").split(",")):
        if not part:
            continue
        kid, sep, b64 = part.partition("=")
        try:
            key = base64.b64decode(b64.strip(), validate=True) if sep else b""
        except ValueError:
            key = b""
        if not kid.strip().isidentifier() or len(key) != 32:
            raise C360Error(f"an encryption key entry is not id=<base64 of 32 bytes> (entry {len(keys) + 1})",
                            where=where, fix="generate one with: python -c \"import os,base64;"
                                             "print('k2=' + base64.b64encode(os.urandom(32)).decode())\"")
        keys[kid.strip()] = key
    if not keys:
        raise C360Error("no encryption key given", where=where)
    return keys


class Keyring:
    """The lake's column keys (module doc), loaded on first use."""

    def __init__(self, keys: dict[str, bytes] | None = None, active: str = "", *, settings: Any = None) -> None:
        self._keys, self._active, self._settings = keys, active, settings

    def _load(self) -> tuple[dict[str, bytes], str]:
        if self._keys is None:
            self._keys, active = _keys_from_settings(self._settings)
            self._active = self._active or active
        if self._active not in self._keys:
            raise C360Error(f"encryption key id {self._active!r} is not in the keyring", where="governance",
                            fix=f"use one of {', '.join(self._keys)}")
        return self._keys, self._active

    @property
    def active(self) -> str:
        return self._load()[1]

    def encrypt(self, values: pa.Array | pa.ChunkedArray, column_id: str) -> pa.Array:
        """Tokens of ``values`` (text); NULL stays NULL, a value already a token is kept."""
        keys, kid = self._load()
        aead, aad = AESGCM(keys[kid]), column_id.encode()
        head = f"{PREFIX}:{kid}:"
        py = values.to_pylist()
        nonces = os.urandom(_NONCE * len(py))
        out: list[str | None] = []
        for i, v in enumerate(py):
            if v is None or v.startswith(PREFIX + ":"):
                out.append(v)
                continue
            nonce = nonces[i * _NONCE:(i + 1) * _NONCE]
            out.append(head + base64.b64encode(nonce + aead.encrypt(nonce, v.encode(), aad)).decode())
        return pa.array(out, pa.string())

    def decrypt(self, values: pa.Array | pa.ChunkedArray, column_id: str) -> pa.Array:
        """Clear text of tokens; NULL stays NULL. A value that is not a token, a key id not in the
        keyring, or a token of another column is an error naming the column, never the value."""
        keys, _ = self._load()
        aad = column_id.encode()
        ciphers: dict[str, AESGCM] = {}
        out: list[str | None] = []
        for n, v in enumerate(values.to_pylist()):
            if v is None:
                out.append(None)
                continue
            prefix, _, rest = v.partition(":")
            kid, _, body = rest.partition(":")
            if prefix != PREFIX or kid not in keys:
                raise C360Error(f"{column_id} row {n}: " + ("not an encrypted value" if prefix != PREFIX else
                                f"encrypted with key {kid!r}, which the keyring lacks"), where=column_id,
                                fix="add the retired key back to governance.encryption_keys, or rebuild the table")
            raw = base64.b64decode(body)
            try:
                out.append(ciphers.setdefault(kid, AESGCM(keys[kid])).decrypt(raw[:_NONCE], raw[_NONCE:], aad).decode())
            except InvalidTag:
                raise C360Error(f"{column_id} row {n}: the value does not decrypt with key {kid!r} for this column",
                                where=column_id, fix="the token was altered or copied from another column") from None
        return pa.array(out, pa.string())

    def seal(self, table_id: str, data: pa.Table, columns: Iterable[str]) -> pa.Table:
        """``data`` with each of ``columns`` encrypted."""
        return _each(data, table_id, columns, self.encrypt)

    def open(self, table_id: str, data: pa.Table, columns: Iterable[str]) -> pa.Table:
        """``data`` with each of ``columns`` decrypted."""
        return _each(data, table_id, columns, self.decrypt)

    def function(self) -> Any:
        """``c360_decrypt`` as an engine function (``Engine.ensure_functions``)."""
        from c360.lake.standardise import Function

        return Function(DECRYPT_FUNCTION, self.sql_function(), 2, "string")

    def sql_function(self) -> Any:
        """``c360_decrypt(value, column_id)`` for ``Engine.register_function`` (Arrow arrays in)."""
        def fn(values: pa.Array, column_ids: pa.Array) -> pa.Array:
            ids = set(column_ids.to_pylist()) - {None}
            if len(ids) > 1:
                raise ValueError("c360_decrypt: one column id per call")
            return self.decrypt(values, ids.pop()) if ids else pa.nulls(len(values), pa.string())
        return fn


def _each(data: pa.Table, table_id: str, columns: Iterable[str], fn: Any) -> pa.Table:
    for name in columns:
        if name in data.column_names:
            i = data.schema.get_field_index(name)
            data = data.set_column(i, pa.field(name, pa.string()), fn(data.column(name), f"{table_id}.{name}"))
    return data


def new_key() -> str:
    """A fresh key, base64."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _keys_from_settings(settings: Any) -> tuple[dict[str, bytes], str]:
    g = settings.governance
    if g.encryption_keys is not None:
        keys = _parse_keys(g.encryption_keys.get_secret_value(), "governance.encryption_keys")
    elif settings.profile == "prod":
        raise C360Error("no encryption keys set: profile prod needs governance.encryption_keys", where="governance",
                        fix="set C360_GOVERNANCE__ENCRYPTION_KEYS=k1=<base64 of 32 random bytes>")
    else:
        keys = _parse_keys(dev_secret(settings, "lake_keys", lambda: f"k1={new_key()}\n"), "lake_keys file")
    return keys, g.encryption_key_id or list(keys)[-1]

