"""The pool of connections that partners' binds go through.

Connections are kept open and re-bound: a new connection per bind costs 2–4 times a re-bind
and, under load, fills the ephemeral ports (MEASUREMENTS.md). One small pool per directory
configuration; a connection that failed at the network level is dropped, never reused.
A server that did not answer a bind in time is set aside for the whole process
(`servers.py`): the bind is tried once on the next server, never again on the same one.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Iterator
from typing import Any

import ldap3
from ldap3.core import exceptions as lx

from apexdir.config import LdapSettings
from apexdir.directory import servers
from apexdir.directory.connection import translate
from apexdir.errors import ApexError, Unavailable

POOL_SIZE = 4
_RETRYABLE = (lx.LDAPSocketOpenError, lx.LDAPSocketReceiveError, lx.LDAPSocketSendError,
              lx.LDAPSessionTerminatedByServerError, lx.LDAPSocketCloseError)  # fmt: skip


class BindPool:
    """Open connections kept for re-binding as one account after another."""

    def __init__(self, settings: LdapSettings, size: int = POOL_SIZE) -> None:
        self.settings = settings
        # (server URI, connection): a connection to a server set aside meanwhile is dropped.
        self._idle: queue.LifoQueue[tuple[str, ldap3.Connection]] = queue.LifoQueue(size)

    def _open(self) -> tuple[str, ldap3.Connection]:
        failure: Exception | None = None
        for uri in servers.order(self.settings.uris):
            conn = ldap3.Connection(
                servers.server(uri, self.settings),
                # placeholders: each use sets the account it binds as
                user="cn=nobody",
                password="-",
                authentication=ldap3.SIMPLE,
                client_strategy=ldap3.SYNC,
                raise_exceptions=False,
                # ldap3 packs this into a socket option that takes whole seconds only
                receive_timeout=math.ceil(self.settings.receive_timeout),
                read_only=False,
            )
            try:
                conn.open(read_server_info=False)
                if self.settings.starttls:
                    conn.start_tls(read_server_info=False)
            except _RETRYABLE as exc:
                self._discard(conn)
                servers.set_aside(uri)
                failure = exc
                continue
            except Exception as exc:
                self._discard(conn)
                raise translate(exc, "open a connection for a bind") from None
            return uri, conn
        assert failure is not None
        raise translate(failure, "open a connection for a bind") from None

    def _take(self) -> tuple[str, ldap3.Connection]:
        while True:
            try:
                uri, conn = self._idle.get_nowait()
            except queue.Empty:
                return self._open()
            if not servers.should_leave(uri, self.settings.uris):
                return uri, conn
            self._discard(conn)

    @contextlib.contextmanager
    def connection(self) -> Iterator[ldap3.Connection]:
        uri, conn = self._take()
        try:
            yield conn
        except ApexError:
            self._release(uri, conn)  # a refusal told in apexdir's terms: the connection is sound
            raise
        except BaseException as exc:
            self._discard(conn)  # its state is unknown: never hand it out again
            if servers.timed_out(exc):
                servers.set_aside(uri)  # accepted the bind and stayed silent: a hung server
            raise
        self._release(uri, conn)

    def _release(self, uri: str, conn: ldap3.Connection) -> None:
        if conn.closed:
            return
        try:
            self._idle.put_nowait((uri, conn))
        except queue.Full:
            self._discard(conn)

    @staticmethod
    def _discard(conn: ldap3.Connection) -> None:
        with contextlib.suppress(Exception):
            conn.unbind()

    def close(self) -> None:
        while True:
            try:
                _, conn = self._idle.get_nowait()
            except queue.Empty:
                return
            self._discard(conn)


_POOLS: dict[tuple[Any, ...], BindPool] = {}
_POOLS_LOCK = threading.Lock()


def _key(settings: LdapSettings) -> tuple[Any, ...]:
    return (tuple(settings.uris), settings.starttls, str(settings.ca_file),
            settings.connect_timeout, settings.receive_timeout)  # fmt: skip


def pool_for(settings: LdapSettings) -> BindPool:
    """The process-wide pool of this directory (CLI, daemon and portal workers alike)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(_key(settings))
        if pool is None:
            pool = _POOLS[_key(settings)] = BindPool(settings)
        return pool


def with_retry(settings: LdapSettings, what: str, action: Any) -> Any:
    """Run `action(conn)` on a pooled connection; once more on a fresh one if the network
    failed (the server dropped idle connections, or died and another one takes over) —
    but after a time-out only on another server: a hung server is not asked twice."""
    pool = pool_for(settings)
    for attempt in (1, 2):
        try:
            with pool.connection() as conn:
                return action(conn)
        except _RETRYABLE as exc:
            # The other idle connections most likely lead to the same dead server: drop them
            # all, so the retry opens a fresh one (to the next server if this one is aside).
            pool.close()
            hung = servers.timed_out(exc) and not servers.available(settings.uris)
            if attempt == 2 or hung:
                raise Unavailable(f"directory unavailable ({what}): {exc}") from None
        except ApexError:
            raise
        except Exception as exc:
            raise translate(exc, what) from None
    raise AssertionError("unreachable")
