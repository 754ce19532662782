"""What a request works with: the runtime of its worker thread and the logged-in account."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from typing import TYPE_CHECKING

from flask import current_app, g, session

from apexdir.clock import Clock
from apexdir.runtime import Runtime

if TYPE_CHECKING:
    from apexdir.config import Settings
    from apexdir.models import Account
    from apexdir.readiness import Readiness
    from apexdir.rules.permissions import Actor

OPERATOR = "portal"


class PortalState:
    """One runtime per worker thread: its LDAP connection and its SQLite handle are reused
    from request to request (a connection per request would cost more than the request)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        # Someone is waiting on every request: LDAP calls get `interactive_timeout`, so a
        # hung directory fails a request in seconds instead of holding it (and a worker).
        self.settings = settings.model_copy(update={"ldap": settings.ldap.interactive()})
        self.clock = clock
        self._local = threading.local()
        self._all: list[Runtime] = []
        self._lock = threading.Lock()
        self._readiness: Readiness | None = None

    def runtime(self) -> Runtime:
        rt = getattr(self._local, "rt", None)
        if rt is None:
            rt = Runtime(self.settings, clock=self.clock, operator=OPERATOR)
            self._local.rt = rt
            with self._lock:
                self._all.append(rt)
        return rt

    def readiness(self) -> Readiness:
        """The probes of `/sante`, one set per process, made when first asked."""
        from apexdir.readiness import Readiness

        with self._lock:
            if self._readiness is None:
                self._readiness = Readiness(self.settings)
            return self._readiness

    def close(self) -> None:
        with self._lock:
            if self._readiness is not None:
                self._readiness.close()
                self._readiness = None
            for rt in self._all:
                # A SQLite handle may be closed only by its own thread; the others go with
                # their thread (the LDAP connections are closed here either way).
                with contextlib.suppress(sqlite3.ProgrammingError):
                    rt.close()
            self._all.clear()
        self._local = threading.local()


def state() -> PortalState:
    return current_app.extensions["apexdir"]  # type: ignore[no-any-return]


def rt() -> Runtime:
    return state().runtime()


def account() -> Account:
    """The logged-in account (read once per request); `security.login_required` ensures it."""
    return g.account  # type: ignore[no-any-return]


def actor() -> Actor:
    from apexdir.workflows.actors import actor_for

    return actor_for(account())


def identifier() -> str | None:
    value = session.get("user")
    return str(value) if value else None
