"""This thread's LDAP request under way, for the requests apexdir encodes itself.

`kept_requests` (searches) and `write_requests` (adds, modifies, deletes) hand ldap3 a request
object made once — a kept shape's first request or a placeholder — and hold here what the
request it stands for really is: its BER encoding and what ldap3 keeps of it. ldap3 sends a
request as soon as it has built it (what it keeps of it, `decode_request`, then its encoding),
one at a time per thread, so one slot per thread is enough; the bytes are taken once, at the
encoding.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# .held: (request object handed to ldap3, the request's BER encoding, what ldap3 keeps of it)
_LOCAL = threading.local()


def hold(request: Any, encoded: bytes, as_dict: dict[str, Any]) -> Any:
    """`request`, with the bytes and the dict of the request it stands for held for it."""
    _LOCAL.held = (request, encoded, as_dict)
    return request


def clear() -> None:
    """Nothing under way: a request is being built (ldap3's own, until one is held)."""
    _LOCAL.held = None


def held() -> tuple[Any, bytes, dict[str, Any]] | None:
    return getattr(_LOCAL, "held", None)  # type: ignore[no-any-return]


def as_dict(request: Any) -> dict[str, Any] | None:
    """What ldap3 keeps of `request` when it is the one held (a copy); None otherwise."""
    current = held()
    return dict(current[2]) if current is not None and current[0] is request else None


def take(request: Any) -> bytes | None:
    """The bytes held for `request`, then forgotten; None when `request` is not the one held."""
    current = held()
    if current is None or current[0] is not request:
        return None
    _LOCAL.held = None
    return current[1]


def to_dict(original: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    """ldap3's `*_request_to_dict` (`original`), answering for the request held with what
    was kept of the request it stands for."""

    def as_dict_or_original(request: Any) -> dict[str, Any]:
        kept = as_dict(request)
        return kept if kept is not None else original(request)  # type: ignore[no-any-return]

    return as_dict_or_original
