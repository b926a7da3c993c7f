"""API credentials: keys from config or dev, bearer tokens, and what is refused."""

from __future__ import annotations

import time

import jwt
import pytest

from c360.errors import C360Error
from c360.serve.auth import Authenticator, AuthError, configured_keys, dev_keys, mint_token, token_secret

K1, K2, K3 = "a" * 24, "b" * 30, "c" * 26


def test_configured_keys_map_to_roles_and_win_over_dev_keys(make_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_SERVING__API_KEYS", f"analyst={K1}, support={K2},analyst={K3}")
    s = make_settings()
    assert configured_keys(s) == [("analyst", K1), ("support", K2), ("analyst", K3)]
    auth = Authenticator(s)
    assert auth.caller(K1, None).role == "analyst" and auth.caller(None, f"Bearer {K2}").role == "support"
    assert auth.caller(K1, None).subject not in K1  # the log sees a digest prefix, never the key
    with pytest.raises(AuthError) as e:
        auth.caller(dev_keys(s)["admin"], None)  # dev keys do not work once keys are configured
    assert e.value.status == 401


@pytest.mark.parametrize(("value", "message"), [
    ("analyst", "role=key"), ("analyst=short", "shorter than 24"), (f"=={K1}", "role=key"),
])
def test_malformed_keys_are_config_errors(make_settings, monkeypatch: pytest.MonkeyPatch, value: str,
                                          message: str) -> None:
    monkeypatch.setenv("C360_SERVING__API_KEYS", value)
    with pytest.raises(C360Error, match=message):
        configured_keys(make_settings())


def test_a_key_for_an_unknown_role_stops_the_api(make_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_SERVING__API_KEYS", f"root={K1}")
    with pytest.raises(C360Error, match="unknown role 'root'"):
        Authenticator(make_settings())


def test_prod_without_credentials_refuses_to_start(make_settings) -> None:
    s = make_settings(profile="prod", crm={"url": "sqlite:///x.db"}, object_store={"url": "/tmp/f"},
                      stream={"url": "/tmp/s"}, lake={"root": "/tmp/l"}, serving={"url": "/tmp/x.duckdb"})
    assert configured_keys(s) == [] and token_secret(s) is None
    with pytest.raises(C360Error, match="no credentials"):
        Authenticator(s)


def test_dev_keys_are_stable_per_home_and_differ_per_role(make_settings) -> None:
    s = make_settings()
    keys = dev_keys(s)
    assert keys == dev_keys(s) and len(set(keys.values())) == len(keys) == len(s.governance.roles)
    assert (s.home / "secrets" / "api_master").stat().st_mode & 0o077 == 0


def test_tokens_carry_a_role_and_expire(make_settings) -> None:
    s = make_settings()
    auth = Authenticator(s)
    c = auth.caller(None, f"Bearer {mint_token(s, 'analyst', 60, 'bob')}")
    assert (c.role, c.via, c.subject) == ("analyst", "token", "bob")
    now = int(time.time())
    old = jwt.encode({"iss": "c360", "sub": "x", "role": "admin", "iat": now - 120, "exp": now - 60},
                     token_secret(s), algorithm="HS256")
    with pytest.raises(AuthError, match="expired"):
        auth.caller(old, None)
    none_alg = jwt.encode({"iss": "c360", "sub": "x", "role": "admin", "iat": now, "exp": now + 60}, None,
                          algorithm="none")
    with pytest.raises(AuthError) as e:
        auth.caller(none_alg, None)
    assert e.value.status == 401
    with pytest.raises(C360Error, match="unknown role"):
        mint_token(s, "root", 60)
