"""The only module that calls ldap3: connections, searches, writes and binds.

ldap3's exceptions stop here and leave as apexdir's named errors. Connections use ldap3's
SYNC strategy under a lock of their own (`Directory._lock`: one request at a time, so a
`Directory` can be shared between threads), to the first configured server that is not set
aside (`servers.py`: a server that refused or did not answer in time is skipped by the whole
process for a while). Not SAFE_SYNC: it deep-copies every response, which doubled the cost
of large searches (benchmarks/RESULTS.md).

A server that does not answer within `receive_timeout` is a failed server: the request is
not sent to it again. A read goes to the next server, if one is left; a write is not sent
again anywhere (without an answer it may have been applied) and reports `Unavailable`.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import ldap3
from ldap3.core import exceptions as lx

from apexdir.config import LdapSettings
from apexdir.directory import kept_requests, servers
from apexdir.errors import (
    ApexError,
    AuthenticationFailed,
    Conflict,
    Invalid,
    NotAllowed,
    NotFound,
    Unavailable,
)

PAGED_OID = "1.2.840.113556.1.4.319"
# Computed by slapd on every read: slapadd refuses them, and they carry nothing.
COMPUTED = frozenset({"entrydn", "hassubordinates", "subschemasubentry", "numsubordinates"})
Changes = Mapping[str, list[tuple[str, list[Any]]]]


@dataclass
class Entry:
    dn: str
    attrs: dict[str, list[Any]] = field(default_factory=dict)
    # Lower-case name → the key of `attrs`, made at the first lookup in another case.
    _keys: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def get(self, name: str, default: Any = None) -> Any:
        values = self.all(name)
        return values[0] if values else default

    def all(self, name: str) -> list[Any]:
        # slapd names an attribute as its schema does, which is how apexdir asks for it:
        # the exact key first (an account's mapping asks twenty names), then any case.
        values = self.attrs.get(name)
        if values is not None:
            return values if isinstance(values, list) else [values]
        keys = self._keys
        if keys is None or len(keys) != len(self.attrs):
            keys = self._keys = {key.lower(): key for key in self.attrs}
        key = keys.get(name.lower())
        values = self.attrs.get(key) if key is not None else None
        if values is None:
            return []
        return values if isinstance(values, list) else [values]


_NETWORK_ERRORS = (
    lx.LDAPSocketOpenError,
    lx.LDAPSocketReceiveError,
    lx.LDAPSocketSendError,
    lx.LDAPSessionTerminatedByServerError,
    lx.LDAPServerPoolExhaustedError,
    lx.LDAPCommunicationError,
    lx.LDAPStartTLSError,
    lx.LDAPResponseTimeoutError,
    lx.LDAPSocketCloseError,
)


class InvalidDN(Invalid):
    """slapd refused a DN's syntax (e.g. longer than it accepts): no entry can have it."""


class NotText(Invalid):
    """A DN, filter or value holds what UTF-8 cannot encode (undecodable input, as lone
    surrogates): it cannot be sent, and no entry can hold it."""


def translate(exc: Exception, what: str) -> ApexError:
    """One ldap3 exception → one named apexdir error, with a message for a person."""
    if isinstance(exc, ApexError):
        return exc
    if isinstance(exc, UnicodeEncodeError):  # pyasn1's derive from it too: the request side
        return NotText(f"the directory cannot take {what}: text that is not valid UTF-8")
    if isinstance(exc, _NETWORK_ERRORS):
        return Unavailable(f"directory unavailable ({what}): {exc}")
    if isinstance(exc, lx.LDAPInvalidCredentialsResult):
        return AuthenticationFailed("invalid credentials")
    if isinstance(exc, lx.LDAPInsufficientAccessRightsResult):
        return NotAllowed(f"the directory refused {what}: insufficient access rights")
    if isinstance(exc, lx.LDAPNoSuchObjectResult):
        return NotFound(f"not found in the directory: {what}")
    if isinstance(exc, lx.LDAPEntryAlreadyExistsResult):
        return Conflict(f"already exists: {what}")
    if isinstance(exc, lx.LDAPConstraintViolationResult | lx.LDAPAttributeOrValueExistsResult):
        return Conflict(f"the directory refused {what}: {_message(exc)}")
    if isinstance(exc, lx.LDAPNoSuchAttributeResult):
        # A compare-and-swap modify (delete the exact old value, add the new one) lost a race.
        return Conflict(f"changed meanwhile ({what}): {_message(exc)}")
    if isinstance(exc, lx.LDAPObjectClassViolationResult | lx.LDAPInvalidAttributeSyntaxResult):
        return Invalid(f"the directory refused {what}: {_message(exc)}")
    if isinstance(exc, lx.LDAPBusyResult | lx.LDAPUnavailableResult):
        return Unavailable(f"directory busy or unavailable ({what}): {_message(exc)}")
    if isinstance(exc, lx.LDAPInvalidDNSyntaxResult | lx.LDAPInvalidDnError):
        return InvalidDN(f"invalid DN: {what}")
    return ApexError(f"directory error ({what}): {_message(exc)}")


def _message(exc: Exception) -> str:
    message = getattr(exc, "message", "") or getattr(exc, "description", "") or str(exc)
    return str(message).strip() or exc.__class__.__name__


def server_pool(settings: LdapSettings) -> ldap3.ServerPool:
    """ldap3's pool, for the bulk loads' long-lived connections (the interactive paths use
    `servers.order`, which also skips a server that hangs)."""
    # FIRST + exhaust: the first configured server is the preferred one; a dead one is
    # skipped for 10 s, then tried again. One pass over the servers (active=1), and ldap3's
    # pause after a failed pass cut from 10 s to 1 s: an operator facing a dead directory
    # wants exit 5 now.
    ldap3.set_config_parameter("POOLING_LOOP_TIMEOUT", 1)
    return ldap3.ServerPool(
        [servers.server(uri, settings) for uri in settings.uris],
        ldap3.FIRST,
        active=1,
        exhaust=10,
    )


# Built and encoded once per shape: the short reads of a web request cost the client less.
kept_requests.install()


class Directory:
    """A bound connection (apexdir's own account unless told otherwise)."""

    def __init__(
        self,
        settings: LdapSettings,
        *,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.settings = settings
        self.user = user if user is not None else settings.bind_dn
        self._password = password
        self._conn: ldap3.Connection | None = None
        self._uri: str | None = None  # the server of `_conn`
        # SYNC, not SAFE_SYNC: SAFE_SYNC deep-copies every response, which was the top of the
        # profiles of the expiry scan and of `structure show` (2× slower). One lock per
        # connection keeps it safe to share between threads, one request at a time.
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ plumbing
    def _password_value(self) -> str:
        return self._password if self._password is not None else self.settings.password()

    def connection(self) -> ldap3.Connection:
        with self._lock:
            return self._open()

    def _open(self) -> ldap3.Connection:
        if self._conn is not None and servers.should_leave(self._uri, self.settings.uris):
            self._drop()  # its server was found hung or dead meanwhile: move to another
        if self._conn is None or self._conn.closed:
            self._conn, self._uri = self._connect()
        return self._conn

    def _connect(self) -> tuple[ldap3.Connection, str]:
        auto_bind = ldap3.AUTO_BIND_NO_TLS
        if self.settings.starttls:
            auto_bind = ldap3.AUTO_BIND_TLS_BEFORE_BIND
        failure: Exception | None = None
        for uri in servers.order(self.settings.uris):
            try:
                conn = ldap3.Connection(
                    servers.server(uri, self.settings),
                    user=self.user,
                    password=self._password_value(),
                    client_strategy=ldap3.SYNC,
                    raise_exceptions=True,
                    receive_timeout=math.ceil(self.settings.receive_timeout),  # ldap3 packs an int
                    auto_bind=auto_bind,
                    read_only=False,
                )
            except _NETWORK_ERRORS as exc:
                servers.set_aside(uri)  # refused, or accepted and silent: try the next one
                failure = exc
                continue
            except Exception as exc:
                raise translate(exc, f"bind as {self.user}") from None
            return conn, uri
        assert failure is not None
        raise translate(failure, f"bind as {self.user}") from None

    def _drop(self) -> None:
        conn, self._conn, self._uri = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a dead connection has nothing to save
                conn.unbind()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """(status, result, response, None) — the shape SAFE_SYNC would answer — with the result
        and response read from the SYNC connection under the lock, before another request."""
        for attempt in (1, 2):
            uri = None
            try:
                with self._lock:
                    conn = self._open()
                    uri = self._uri
                    status = getattr(conn, method)(*args, **kwargs)
                    return status, conn.result, conn.response, None
            except _NETWORK_ERRORS as exc:
                with self._lock:
                    self._drop()
                if servers.timed_out(exc):
                    # A hung server: never asked again by this process for a while. A read
                    # goes to another server; a write may have been applied: not sent again.
                    if uri is not None:
                        servers.set_aside(uri)
                    if method != "search" or not servers.available(self.settings.uris):
                        raise translate(exc, what) from None
                # Otherwise the server may have dropped an idle connection, or died:
                # reconnect once (to the next server if it refuses) before giving up.
                if attempt == 2:
                    raise translate(exc, what) from None
            except Exception as exc:
                raise translate(exc, what) from None
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ reads
    def search(
        self,
        base: str,
        ldap_filter: str = "(objectClass=*)",
        attributes: list[str] | None = None,
        *,
        scope: str = "sub",
        paged: bool = True,
    ) -> list[Entry]:
        return list(self.iter_search(base, ldap_filter, attributes, scope=scope, paged=paged))

    def iter_search(
        self,
        base: str,
        ldap_filter: str = "(objectClass=*)",
        attributes: list[str] | None = None,
        *,
        scope: str = "sub",
        paged: bool = True,
    ) -> Iterator[Entry]:
        attrs = attributes if attributes is not None else [ldap3.ALL_ATTRIBUTES]
        try:
            for item in self._results(base, ldap_filter, attrs, scope, paged):
                yield Entry(item["dn"], dict(item["attributes"]))
        except (NotFound, InvalidDN, NotText):
            # A base that cannot be a DN (a 10,000-character uid…), or a base or filter
            # that cannot even be encoded: nothing can match it.
            return

    def export_raw(self, base: str) -> list[tuple[str, dict[str, list[bytes]]]]:
        """Every entry under `base` with its user ("*") and operational ("+") attributes, as
        the bytes slapd holds (argon2 values end with a NUL and a stray byte, see README),
        parents before children (what slapadd needs). The values slapd computes on every read
        are left out: slapadd refuses them. `NotFound` when there is no such base."""
        entries: list[tuple[str, dict[str, list[bytes]]]] = []
        for item in self._results(base, "(objectClass=*)", ["*", "+"], "sub", True, "export"):
            raw = {
                name: list(values)
                for name, values in item["raw_attributes"].items()
                if name.lower() not in COMPUTED and values
            }
            entries.append((item["dn"], raw))
        entries.sort(key=lambda e: len(ldap3.utils.dn.parse_dn(e[0])))
        return entries

    def _results(
        self,
        base: str,
        ldap_filter: str,
        attributes: list[str],
        scope: str,
        paged: bool,
        doing: str = "search",
    ) -> Iterator[dict[str, Any]]:
        """The entries of a search as ldap3 answers them, page after page."""
        ldap_scope = {"base": ldap3.BASE, "one": ldap3.LEVEL, "sub": ldap3.SUBTREE}[scope]
        cookie: bytes | None = None
        while True:
            kwargs: dict[str, Any] = {}
            if paged:
                kwargs = {"paged_size": self.settings.page_size, "paged_cookie": cookie}
            _, result, response, _ = self._call(
                f"{doing} {base}", "search", base, ldap_filter, ldap_scope,
                attributes=attributes, **kwargs,
            )  # fmt: skip
            for item in response or []:
                if item.get("type") == "searchResEntry":
                    yield item
            cookie = (
                result.get("controls", {}).get(PAGED_OID, {}).get("value", {}).get("cookie")
                if paged
                else None
            )
            if not cookie:
                return

    def get(self, dn: str, attributes: list[str] | None = None) -> Entry | None:
        found = self.search(dn, "(objectClass=*)", attributes, scope="base", paged=False)
        return found[0] if found else None

    def exists(self, dn: str) -> bool:
        return self.get(dn, ["1.1"]) is not None

    # ------------------------------------------------------------------ writes
    def add(self, dn: str, attributes: Mapping[str, Any]) -> None:
        clean = {k: v for k, v in attributes.items() if v not in (None, [], "")}
        self._call(f"add {dn}", "add", dn, attributes=clean)

    def modify(self, dn: str, changes: Changes) -> None:
        mapped = {attr: [(_MOD[op], values) for op, values in ops] for attr, ops in changes.items()}
        self._call(f"modify {dn}", "modify", dn, mapped)

    def swap(self, dn: str, changes: Changes) -> bool:
        """The compare-and-swap: one modify whose deletes name the exact values read (and
        whose adds meet a single-valued attribute left empty). False when another writer
        changed the entry meanwhile (`Conflict`: the value is gone, or one is already
        there); every other error, `Unavailable` and `NotFound` included, is raised."""
        try:
            self.modify(dn, changes)
        except Conflict:
            return False
        return True

    def replace(self, dn: str, **values: Any) -> None:
        """Replace attributes; None or [] removes the attribute."""
        changes: dict[str, list[tuple[str, list[Any]]]] = {}
        for attr, value in values.items():
            if value is None or value == [] or value == "":
                changes[attr] = [("replace", [])]
            else:
                changes[attr] = [("replace", value if isinstance(value, list) else [value])]
        self.modify(dn, changes)

    def delete(self, dn: str) -> None:
        self._call(f"delete {dn}", "delete", dn)

    def rename(self, dn: str, new_rdn: str) -> None:
        """Give the entry a new RDN in place, its subtree with it (modrdn, old RDN value
        removed): slapd renames the children and refint rewrites the references to them."""
        self._call(f"rename {dn}", "modify_dn", dn, new_rdn, delete_old_dn=True)


_MOD = {
    "add": ldap3.MODIFY_ADD,
    "delete": ldap3.MODIFY_DELETE,
    "replace": ldap3.MODIFY_REPLACE,
    "increment": ldap3.MODIFY_INCREMENT,
}
