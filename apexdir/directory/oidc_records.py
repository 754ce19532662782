"""The OIDC provider's records in the directory, one map per kind, read and written by the
same map: clients (an application's, under its entry; a federation's, under
`ou=federation`), authorization codes (`ou=codes`, spent by one `Directory.swap`), signing
keys (`ou=keys`), and the account reads the provider needs. `apexdir.oidc.store` keeps the
provider's logic and builds its objects from these records (Python names → values).
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

from apexdir.clock import to_generalized_time
from apexdir.directory import filters as f
from apexdir.directory import mapping as m
from apexdir.directory.connection import Directory, Entry
from apexdir.directory.layout import Layout
from apexdir.errors import Conflict, Invalid, NotFound
from apexdir.models import Account

# A client: `oidc.models.Client`'s fields → LDAP attributes.
CLIENT = {
    "client_id": "apexOidcClientId",
    "app": "apexAppCode",
    "secret_hash": "apexTokenHash",
    "redirect_uris": "apexOidcRedirectUri",
    "post_logout_uris": "apexOidcPostLogoutUri",
    "public": "apexOidcPublic",
    "signing_alg": "apexOidcSigningAlg",
    "name": "description",
}
_CLIENT_LISTS = {"redirect_uris", "post_logout_uris"}
# An authorization code (a grant): its data (JSON), state (fresh → used) and expiry.
CODE = {"data": "apexOidcData", "state": "apexOidcState", "expires_at": "apexExpiresAt"}
# A signing key: its kid, state (current, next, previous) and private JWK (JSON).
KEY = {"kid": "cn", "state": "apexOidcState", "jwk": "apexOidcData"}
CLIENT_CLASS = f.eq("objectClass", "apexOidcClient")
ACCOUNT_READ = [*m.ACCOUNT_ATTRS, "entryUUID"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def client_from(entry: Entry) -> dict[str, Any]:
    """A client's record, by `CLIENT`'s names."""
    public = entry.get(CLIENT["public"])
    secret = entry.get(CLIENT["secret_hash"])
    return {
        "client_id": _text(entry.get(CLIENT["client_id"])),
        "app": _text(entry.get(CLIENT["app"])),
        "redirect_uris": [_text(v) for v in entry.all(CLIENT["redirect_uris"])],
        "post_logout_uris": [_text(v) for v in entry.all(CLIENT["post_logout_uris"])],
        "public": public is True or _text(public).upper() == "TRUE",
        "secret_hash": _text(secret) if secret else None,
        "signing_alg": _text(entry.get(CLIENT["signing_alg"]) or "RS256"),
        "name": _text(entry.get(CLIENT["name"]) or ""),
    }


def client_attrs(values: dict[str, Any]) -> dict[str, Any]:
    """A client's fields (by `CLIENT`'s names) as attributes; `public` as LDAP's boolean."""
    attrs = {CLIENT[name]: value for name, value in values.items()}
    if "public" in values:
        attrs[CLIENT["public"]] = "TRUE" if values["public"] else "FALSE"
    return attrs


def code_attrs(key: str, data: dict[str, Any], expires: float) -> dict[str, Any]:
    """A fresh code's entry: its data, expiry and state."""
    return {
        "objectClass": ["apexOidcGrant"],
        "cn": key,
        CODE["expires_at"]: to_generalized_time(datetime.fromtimestamp(expires).astimezone()),
        CODE["data"]: json.dumps(data, separators=(",", ":")),
        CODE["state"]: "fresh",
    }


def key_from(entry: Entry) -> dict[str, Any]:
    return {
        "kid": _text(entry.get(KEY["kid"])),
        "state": _text(entry.get(KEY["state"])),
        "jwk": json.loads(_text(entry.get(KEY["jwk"]))),
    }


def key_attrs(kid: str, state: str, jwk: dict[str, Any]) -> dict[str, Any]:
    return {
        "objectClass": ["apexOidcKey"],
        KEY["kid"]: kid,
        KEY["state"]: state,
        KEY["jwk"]: json.dumps(jwk),
    }


def state_changes(old: str, new: str) -> dict[str, list[tuple[str, list[Any]]]]:
    """The compare-and-swap of a code's or a key's state: old value deleted, new added."""
    return {CODE["state"]: [("delete", [old]), ("add", [new])]}


class OidcRecords:
    def __init__(self, directory: Directory, layout: Layout) -> None:
        self.directory = directory
        self.layout = layout

    # ------------------------------------------------------------------ clients
    def client(self, dn: str) -> dict[str, Any] | None:
        """The client at `dn`, or None (a malformed DN included)."""
        try:
            entry = self.directory.get(dn, list(CLIENT.values()))
        except (NotFound, Invalid):
            return None
        return client_from(entry) if entry is not None else None

    def clients(self) -> list[dict[str, Any]]:
        """The applications' clients."""
        entries = self.directory.search(
            self.layout.applications_dn, CLIENT_CLASS, list(CLIENT.values())
        )
        return [client_from(e) for e in entries]

    def federation_clients(self) -> list[dict[str, Any]]:
        try:
            entries = self.directory.search(
                self.layout.oidc_federation_dn, CLIENT_CLASS, list(CLIENT.values()), scope="one"
            )
        except NotFound:  # a directory initialised before federations existed
            return []
        return [client_from(e) for e in entries]

    def put_client(self, dn: str, ids: dict[str, Any], values: dict[str, Any]) -> bool:
        """Replace the client's `values`, or add it with `ids` too; whether it existed.
        A federation's client whose parent is missing (a directory initialised before
        federations existed; `apexdir init` makes it) gets it first."""
        if self.directory.exists(dn):
            self.directory.replace(dn, **client_attrs(values))
            return True
        entry = {"objectClass": ["apexOidcClient"], **client_attrs(ids | values)}
        try:
            self.directory.add(dn, entry)
        except NotFound:
            if not dn.endswith("," + self.layout.oidc_federation_dn):
                raise
            with contextlib.suppress(Conflict):
                self.directory.add(
                    self.layout.oidc_federation_dn,
                    {"objectClass": ["organizationalUnit"], "ou": "federation"},
                )
            self.directory.add(dn, entry)
        return False

    # ------------------------------------------------------------------ codes
    def add_code(self, key: str, data: dict[str, Any], expires: float) -> None:
        """A fresh code, by the digest of its value: the one add of its life."""
        self.directory.add(self.layout.oidc_code_dn(key), code_attrs(key, data, expires))

    def code(self, key: str) -> tuple[dict[str, Any], str] | None:
        """The code's data and state, or None."""
        entry = self.directory.get(self.layout.oidc_code_dn(key), [CODE["data"], CODE["state"]])
        if entry is None:
            return None
        return json.loads(_text(entry.get(CODE["data"]))), _text(
            entry.get(CODE["state"]) or "fresh"
        )

    def spend_code(self, key: str) -> bool:
        """fresh → used by the one compare-and-swap; False when spent (or purged) first."""
        try:
            return self.directory.swap(
                self.layout.oidc_code_dn(key), state_changes("fresh", "used")
            )
        except NotFound:
            return False

    def purge_grants(self, base: str, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` grants under `base` expired at `cutoff`; how many."""
        try:
            found = self.directory.search(
                base,
                f.and_(f.eq("objectClass", "apexOidcGrant"), f.le(CODE["expires_at"], cutoff)),
                ["1.1"],
                scope="one",
            )
        except NotFound:  # a directory initialised before the provider existed
            return 0
        count = 0
        for entry in found[:limit]:
            with contextlib.suppress(NotFound):  # another node purged it
                self.directory.delete(entry.dn)
                count += 1
        return count

    # ------------------------------------------------------------------ signing keys
    def add_key(self, kid: str, state: str, jwk: dict[str, Any]) -> None:
        self.directory.add(self.layout.oidc_key_dn(kid), key_attrs(kid, state, jwk))

    def signing_keys(self) -> list[dict[str, Any]]:
        entries = self.directory.search(
            self.layout.oidc_keys_dn,
            f.eq("objectClass", "apexOidcKey"),
            list(KEY.values()),
            scope="one",
        )
        return [key_from(e) for e in entries]

    def move_key(self, kid: str, old: str, new: str | None) -> None:
        """The key goes from state `old` to `new` (None: deleted)."""
        dn = self.layout.oidc_key_dn(kid)
        if new is None:
            self.directory.delete(dn)
        else:
            self.directory.modify(dn, state_changes(old, new))

    # ------------------------------------------------------------------ accounts
    def account(self, identifier: str) -> tuple[Account, str] | None:
        """The account and its entryUUID (the `sub`), or None."""
        try:
            entry = self.directory.get(self.layout.account_dn(identifier), ACCOUNT_READ)
        except (NotFound, Invalid):
            return None
        return _account(entry)

    def account_by_uuid(self, uuid: str) -> tuple[Account, str] | None:
        """The account whose entryUUID is `uuid`, and it; None unless exactly one."""
        try:
            found = self.directory.search(
                self.layout.people_dn,
                f.eq("entryUUID", uuid),
                ACCOUNT_READ,
                scope="one",
                paged=False,
            )
        except (NotFound, Invalid):
            return None
        return _account(found[0]) if len(found) == 1 else None

    def service_name(self, dn: str) -> str | None:
        service = self.directory.get(dn, [m.SERVICE["name"]])
        return _text(service.get(m.SERVICE["name"])) if service is not None else None

    def session_generation(self, identifier: str) -> str | None:
        """The account's session generation ("" when it has none), or None: no such entry."""
        try:
            entry = self.directory.get(self.layout.account_dn(identifier), [m.SESSION_GENERATION])
        except (NotFound, Invalid):
            return None
        return _text(entry.get(m.SESSION_GENERATION) or "") if entry is not None else None

    def renew_sessions(self, identifier: str, generation: str) -> None:
        """A new session generation: every session under the former one ends."""
        dn = self.layout.account_dn(identifier)
        self.directory.replace(dn, **{m.SESSION_GENERATION: generation})


def _account(entry: Entry | None) -> tuple[Account, str] | None:
    if entry is None or entry.get("apexAccountType") is None:
        return None
    return m.account_from(entry), _text(entry.get("entryUUID"))
