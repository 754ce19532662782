"""Bulk loads: pipelined writes (ldap3 ASYNC, `window` requests in flight) and whole-branch reads.

Why: with durable writes slapd commits (fsyncs) every write; a client that waits for each
answer before sending the next adds its own CPU time (≈ 0.6 ms per add for ldap3's
pure-Python BER) to every commit. Keeping ≈ 200 requests outstanding overlaps the two
(MEASUREMENTS.md: ldap3 ASYNC window 200 ≈ 90 % of ldapadd's rate).

slapd runs the operations of one connection concurrently, in any order: a request that
depends on another (a service under its structure, members of a group added just before)
must be sent after a `barrier()`, which waits for every answer.

Outcomes are reported, not raised: `on_result(tag, dn, code, message)` is called once per
request, in the order requests were sent (code 0 = success, 68 = already exists, …).
Only a lost connection raises (`Unavailable`).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import ldap3
from ldap3.core import exceptions as lx

from apexdir.config import LdapSettings
from apexdir.directory.connection import server_pool, translate
from apexdir.errors import Unavailable

DEFAULT_WINDOW = 200
SUCCESS = 0
ALREADY_EXISTS = 68
ATTRIBUTE_OR_VALUE_EXISTS = 20
NO_SUCH_OBJECT = 32

ResultHandler = Callable[[Any, str, int, str], None]

_MOD = {"add": ldap3.MODIFY_ADD, "delete": ldap3.MODIFY_DELETE, "replace": ldap3.MODIFY_REPLACE}


def _ignore(tag: Any, dn: str, code: int, message: str) -> None:
    return None


class BulkWriter:
    """`add`/`modify` return at once; answers are collected as the window fills."""

    def __init__(
        self,
        settings: LdapSettings,
        *,
        window: int = DEFAULT_WINDOW,
        on_result: ResultHandler = _ignore,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.settings = settings
        self.window = max(1, window)
        self.on_result = on_result
        self.user = user if user is not None else settings.bind_dn
        self._password = password
        self._conn: ldap3.Connection | None = None
        self._pending: deque[tuple[int, str, Any]] = deque()
        # A group write fans out into one internal write per member (memberof): give it time.
        self.timeout = max(60.0, settings.receive_timeout)

    # ------------------------------------------------------------------ connection
    def open(self) -> BulkWriter:
        if self._conn is not None:
            return self
        password = self._password if self._password is not None else self.settings.password()
        auto_bind = ldap3.AUTO_BIND_NO_TLS
        if self.settings.starttls:
            auto_bind = ldap3.AUTO_BIND_TLS_BEFORE_BIND
        try:
            self._conn = ldap3.Connection(
                server_pool(self.settings),
                user=self.user,
                password=password,
                client_strategy=ldap3.ASYNC,
                raise_exceptions=False,
                check_names=False,  # no schema is read (get_info=NONE): nothing to check with
                auto_bind=auto_bind,
                read_only=False,
            )
        except Exception as exc:
            raise translate(exc, f"bind as {self.user}") from None
        return self

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # a dead connection has nothing to flush
                self._conn.unbind()
            self._conn = None

    def __enter__(self) -> BulkWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def add(self, dn: str, attributes: Mapping[str, Any], tag: Any = None) -> None:
        clean = {k: v for k, v in attributes.items() if v not in (None, [], "")}
        self._send(dn, tag, "add", dn, attributes=clean)

    def modify(
        self, dn: str, changes: Mapping[str, list[tuple[str, list[Any]]]], tag: Any = None
    ) -> None:
        mapped = {attr: [(_MOD[op], values) for op, values in ops] for attr, ops in changes.items()}
        self._send(dn, tag, "modify", dn, mapped)

    def _send(self, dn: str, tag: Any, method: str, *args: Any, **kwargs: Any) -> None:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        while len(self._pending) >= self.window:
            self._collect_one()
        try:
            message_id = getattr(self._conn, method)(*args, **kwargs)
        except Exception as exc:
            raise translate(exc, f"{method} {dn}") from None
        if not message_id:  # ldap3 refused to send (closed connection)
            raise Unavailable(f"directory unavailable ({method} {dn}): connection closed")
        self._pending.append((message_id, dn, tag))

    def _collect_one(self) -> None:
        assert self._conn is not None
        message_id, dn, tag = self._pending.popleft()
        try:
            _, result = self._conn.get_response(message_id, timeout=self.timeout)
        except Exception as exc:
            raise translate(exc, f"answer for {dn}") from None
        if result is None:
            raise Unavailable(f"directory unavailable: no answer for {dn}")
        message = str(result.get("message") or result.get("description") or "").strip()
        self.on_result(tag, dn, int(result.get("result", -1)), message)

    def barrier(self) -> None:
        """Wait for every answer: what is sent next may depend on what was sent before."""
        while self._pending:
            self._collect_one()


PAGED_OID = "1.2.840.113556.1.4.319"
_SCOPES = {"base": ldap3.BASE, "one": ldap3.LEVEL, "sub": ldap3.SUBTREE}


def read_all(
    settings: LdapSettings,
    base: str,
    ldap_filter: str,
    attributes: list[str],
    *,
    scope: str = "sub",
    page_size: int = 1000,
) -> Iterator[tuple[str, dict[str, list[Any]]]]:
    """(dn, attributes) of every match, paged, over a connection of its own.

    For reads of a whole branch (what a bulk load must know exists): a SYNC connection of
    its own, used by one caller, so that a long paged scan never holds the lock of the
    shared `Directory` connection (SYNC as well; neither uses SAFE_SYNC, whose deep copy of
    every response was half of the CPU of a 100,000-entry search).
    """
    try:
        conn = ldap3.Connection(
            server_pool(settings),
            user=settings.bind_dn,
            password=settings.password(),
            client_strategy=ldap3.SYNC,
            raise_exceptions=True,
            check_names=False,
            auto_bind=(
                ldap3.AUTO_BIND_TLS_BEFORE_BIND if settings.starttls else ldap3.AUTO_BIND_NO_TLS
            ),
            receive_timeout=max(60, int(settings.receive_timeout)),
        )
    except Exception as exc:
        raise translate(exc, f"bind as {settings.bind_dn}") from None
    try:
        cookie: bytes | None = None
        while True:
            try:
                conn.search(base, ldap_filter, _SCOPES[scope], attributes=attributes,
                            paged_size=page_size, paged_cookie=cookie)  # fmt: skip
            except lx.LDAPNoSuchObjectResult:
                return
            except Exception as exc:
                raise translate(exc, f"search {base}") from None
            for item in conn.response or []:
                if item.get("type") == "searchResEntry":
                    yield item["dn"], item["attributes"]
            controls = (conn.result or {}).get("controls") or {}
            cookie = controls.get(PAGED_OID, {}).get("value", {}).get("cookie")
            if not cookie:
                return
    finally:
        with contextlib.suppress(Exception):
            conn.unbind()
