"""The OIDC provider's maps (directory.oidc_records): a client, a code and a signing key
written read back as they were, by the same map."""

from __future__ import annotations

from typing import Any

from apexdir.directory import oidc_records as r
from apexdir.directory.connection import Entry


def _stored(attrs: dict[str, Any]) -> Entry:
    """The entry slapd keeps of an add (as `Directory.add` sends it: empty values dropped)."""
    kept = {k: v if isinstance(v, list) else [v] for k, v in attrs.items()}
    return Entry("cn=x", {k: v for k, v in kept.items() if v not in ([None], [], [""])})


def test_a_client_written_reads_back_the_same() -> None:
    record = {
        "client_id": "proconnect", "app": "@federation", "secret_hash": "ab" * 32,
        "redirect_uris": ["https://a.example/cb", "https://b.example/cb"],
        "post_logout_uris": ["https://a.example/out"], "public": False,
        "signing_alg": "ES256", "name": "ProConnect",
    }  # fmt: skip
    attrs = {"objectClass": ["apexOidcClient"], **r.client_attrs(record)}
    assert attrs["apexOidcPublic"] == "FALSE"
    assert r.client_from(_stored(attrs)) == record


def test_a_public_client_without_secret_reads_back_its_defaults() -> None:
    """No secret, the default algorithm, no name."""
    record = {"client_id": "APP", "app": "APP", "redirect_uris": ["https://a.example/cb"],
              "post_logout_uris": [], "public": True, "secret_hash": None}  # fmt: skip
    back = r.client_from(_stored(r.client_attrs(record)))
    assert back == record | {"signing_alg": "RS256", "name": ""}


def test_a_code_reads_back_fresh_and_is_spent_by_one_swap() -> None:
    entry = _stored(r.code_attrs("k" * 64, {"sub": "u", "expires_at": 1.0}, 1.0))
    assert entry.get("cn") == "k" * 64 and entry.get("apexOidcState") == "fresh"
    assert r.state_changes("fresh", "used") == {
        "apexOidcState": [("delete", ["fresh"]), ("add", ["used"])]
    }


def test_a_signing_key_written_reads_back_the_same() -> None:
    jwk = {"kty": "EC", "kid": "k1", "crv": "P-256", "x": "a", "y": "b", "d": "c"}
    entry = _stored(r.key_attrs("k1", "current", jwk))
    assert r.key_from(entry) == {"kid": "k1", "state": "current", "jwk": jwk}
