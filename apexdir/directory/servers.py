"""Which directory server to ask: the configured ones in order, a failed one set aside.

ldap3's ServerPool skips a server that refuses connections, but not one that accepts them
and then never answers: the kernel completes the TCP handshake of a hung (or SIGSTOPped)
slapd, and every request waits out its receive time-out. Here a server that failed —
refused, or silent past the time-out — is set aside for `SET_ASIDE_SECONDS`, for the whole
process: every connection of it (apexdir's account in each portal thread, the bind pool,
the daemon's jobs) then goes to the next server at once, instead of each one waiting out
its own time-out against the same hung server. Once the delay has passed the server is
preferred again for new connections, so a provider that came back is used again.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Sequence

import ldap3
from ldap3.core import exceptions as lx

from apexdir.config import LdapSettings

SET_ASIDE_SECONDS = 10.0

_aside: dict[str, float] = {}  # URI → time.monotonic() until which it is set aside
_lock = threading.Lock()


def server(uri: str, settings: LdapSettings) -> ldap3.Server:
    """One ldap3 server of the configuration, with its TLS settings."""
    tls = None
    if settings.ca_file or uri.startswith("ldaps://") or settings.starttls:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=str(settings.ca_file) if settings.ca_file else None,
        )
    return ldap3.Server(uri, connect_timeout=settings.connect_timeout, tls=tls, get_info=ldap3.NONE)


def timed_out(exc: BaseException) -> bool:
    """The server accepted the request (or the connection) and did not answer in time."""
    # ldap3 wraps socket.timeout in a class deriving from both its own error and TimeoutError.
    return isinstance(exc, TimeoutError | lx.LDAPResponseTimeoutError)


def set_aside(uri: str, seconds: float = SET_ASIDE_SECONDS) -> None:
    with _lock:
        _aside[uri] = time.monotonic() + seconds


def is_set_aside(uri: str) -> bool:
    with _lock:
        until = _aside.get(uri)
        if until is None:
            return False
        if until <= time.monotonic():
            del _aside[uri]
            return False
        return True


def order(uris: Sequence[str]) -> list[str]:
    """The URIs to try, in this order: those not set aside (as configured), then those set
    aside, the soonest back first — when every server failed lately, one may be back."""
    fresh = [uri for uri in uris if not is_set_aside(uri)]
    with _lock:
        aside = sorted((uri for uri in uris if uri not in fresh), key=lambda u: _aside.get(u, 0))
    return fresh + aside


def available(uris: Sequence[str]) -> bool:
    """Whether some server is not set aside: worth another try after a time-out."""
    return any(not is_set_aside(uri) for uri in uris)


def should_leave(uri: str | None, uris: Sequence[str]) -> bool:
    """A connection to `uri` should be dropped for another: its server was set aside (by
    any thread of the process) and another one is not."""
    return uri is not None and is_set_aside(uri) and available(uris)


def forget() -> None:
    """Forget every server set aside (tests; a process that knows the servers are back)."""
    with _lock:
        _aside.clear()
