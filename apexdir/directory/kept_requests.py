"""ldap3's search requests, built and encoded once per shape.

ldap3 (2.9.1, the last release: its internals no longer move) builds every request as pyasn1
objects and encodes them with pyasn1's BER encoder, in pure Python: for the short reads of a
web request (an account, an OIDC client, a code) that was most of the client's CPU — more
than slapd's for the same read (benchmarks/grants.py, RESULTS.md « capacity »). Replacing
four of its functions is the price; `tests/unit/test_ldap_requests.py` checks the bytes sent
against pyasn1's own encoding, so an ldap3 that changed them would fail there first.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from ldap3.core import connection as ldap3_connection
from ldap3.strategy import base as ldap3_base
from pyasn1.type.base import noValue

from apexdir.directory import search_ber, underway, write_requests
from apexdir.directory.ber import integer, tlv

# ldap3 builds every request as pyasn1 objects and encodes them with pyasn1's BER encoder,
# in pure Python: for the short reads of a web request (an account, an OIDC client, a code)
# that was most of the client's CPU — more than slapd's for the same read. A search is built
# and encoded in full once per shape (filter, scope, attributes, limits: what apexdir's code
# writes, whatever the base). The next search of that shape hands ldap3 the first request
# object, and what goes on the wire is the first one's bytes with the new base in place
# (`underway`: ldap3 sends a request as soon as it is built).
# Only requests are kept, never an answer: every read still goes to the directory.
# shape → (first request, its encoding after the base, what ldap3 keeps of it)
_SHAPES: dict[tuple[Any, ...], tuple[Any, bytes, dict[str, Any]]] = {}
_SHAPES_KEPT = 512
_requests_lock = threading.Lock()
_build_search = ldap3_connection.search_operation
_encode = ldap3_base.encode
_to_dict = ldap3_base.search_request_to_dict
# The one request object ldap3 is handed for the shapes `search_ber` writes (it only places
# it in its message: the bytes sent are this search's own, from `underway`).
_PLACEHOLDER = _build_search("", "(objectClass=*)", 0, 0, ["1.1"], 0, 0, False, True, None)


def _after_base(encoded: bytes) -> bytes:
    """A SearchRequest's encoding without its tag, length and base (an OCTET STRING)."""
    at = 1 + (1 if encoded[1] < 0x80 else 1 + (encoded[1] & 0x7F))  # past tag and length
    size = encoded[at + 1]
    start = at + 2
    if size >= 0x80:
        count = size & 0x7F
        size = int.from_bytes(encoded[start : start + count], "big")
        start += count
    return encoded[start + size :]


def _search_operation(
    base: Any,
    search_filter: Any,
    scope: Any,
    deref: Any,
    attributes: Any,
    size_limit: Any,
    time_limit: Any,
    types_only: Any,
    auto_escape: Any,
    auto_encode: Any,
    schema: Any = None,
    validator: Any = None,
    check_names: Any = False,
) -> Any:
    """ldap3's `search_operation`: the first request of the same shape, its bytes for this
    base held in `underway` (no schema nor validator: apexdir's servers carry none)."""
    underway.clear()
    args: tuple[Any, ...] = (base, search_filter, scope, deref, attributes, size_limit)
    args += (time_limit, types_only, auto_escape, auto_encode)
    if schema is not None or validator is not None or not isinstance(base, str):
        return _build_search(*args, schema, validator, check_names)
    names = tuple(attributes) if isinstance(attributes, list | tuple) else attributes
    shape = (*args[1:4], names, *args[5:], check_names)
    kept = _SHAPES.get(shape)
    if kept is None:
        kept = _new_shape(args, check_names)
        with _requests_lock:
            if len(_SHAPES) >= _SHAPES_KEPT:
                _SHAPES.clear()
            _SHAPES[shape] = kept
    request, tail, first = kept
    # As ldap3's LDAPDN encodes it (UTF-8; what cannot be encoded fails here, as there).
    encoded = tlv(0x63, tlv(0x04, base.encode("utf-8")) + tail)
    return underway.hold(request, encoded, dict(first, base=base))


def _new_shape(args: tuple[Any, ...], check_names: Any) -> tuple[Any, bytes, dict[str, Any]]:
    """A shape's request object, its bytes after the base, what ldap3 keeps of it: written
    by `search_ber` (the one request object it hands ldap3 is `_PLACEHOLDER`), or built and
    encoded by ldap3 and pyasn1 for what `search_ber` leaves to them."""
    _, search_filter, scope, deref, attributes, size, time, types_only, escape, encode = args
    if _limit(size) and _limit(time) and isinstance(search_filter, str):
        try:
            limits = (size, time, types_only)
            options = (escape, encode, check_names)
            tail, done = search_ber.after_base(search_filter, scope, deref, attributes, *limits,
                                               *options)  # fmt: skip
            return _PLACEHOLDER, tail, done
        except search_ber.Unsupported:
            pass
    request = _build_search(*args, None, None, check_names)
    return request, _after_base(bytes(_encode(request))), _to_dict(request)


def _limit(n: Any) -> bool:
    return type(n) is int and 0 <= n < 2**31


def _encode_message(message: Any) -> bytes:
    """pyasn1's encoding of an LDAPMessage; for this thread's request under way, the bytes
    made for it, in an envelope encoded here (its controls by pyasn1)."""
    op = message.getComponentByPosition(1).getComponent()
    encoded = underway.take(op)
    if encoded is not None:
        return _envelope(message, encoded)
    if _stands_in(op):
        # A kept search carries the base of its shape's first search, a placeholder no
        # request at all: sent without the bytes made for it, it would read another entry
        # or write nothing asked for. Never, by ldap3's order.
        raise RuntimeError("an LDAP request apexdir encodes sent without its own bytes")
    return bytes(_encode(message))


def _stands_in(op: Any) -> bool:
    """`op` is a request object handed to ldap3 for others: a placeholder or a kept shape's."""
    placeholders = (_PLACEHOLDER, *write_requests.PLACEHOLDERS)
    return any(op is p for p in placeholders) or any(op is k[0] for k in list(_SHAPES.values()))


def _envelope(message: Any, operation: bytes) -> bytes:
    """LDAPMessage ::= SEQUENCE { messageID, protocolOp, controls [0] OPTIONAL }, around the
    operation's bytes made here (the controls by pyasn1)."""
    number = integer(0x02, int(message.getComponentByPosition(0)))
    controls = message.getComponentByPosition(2, instantiate=False)
    after = b"" if controls is noValue else bytes(_encode(controls))
    return tlv(0x30, number + operation + after)


# What ldap3 keeps of a request it sends (`decode_request`): for this thread's search under
# way, the one made with it.
_search_request_to_dict = underway.to_dict(_to_dict)


_parse_dn = ldap3_connection.safe_dn
_checked_dn = functools.lru_cache(maxsize=4096)(_parse_dn)


def _safe_dn(dn: Any) -> Any:
    """ldap3's check of a request's DN (`safe_dn`: a parse of it), once a DN."""
    return _checked_dn(dn) if isinstance(dn, str) else _parse_dn(dn)


def install() -> None:
    """Put the kept requests in ldap3's place (once per process, by `directory.connection`)."""
    ldap3_connection.safe_dn = _safe_dn
    ldap3_connection.search_operation = _search_operation
    ldap3_base.encode = _encode_message
    ldap3_base.search_request_to_dict = _search_request_to_dict
    write_requests.install()
