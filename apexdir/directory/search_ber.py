"""A search request's BER after its base (RFC 4511 §4.5.1), written from ldap3's parse of the
filter without pyasn1.

`kept_requests` encodes a search once per shape (filter, scope, attributes, limits); a filter
that carries a value (an address, a date, a mark) is a new shape at every call, and ldap3
built and encoded it as pyasn1 objects each time. The filter is still parsed by ldap3
(`parse_filter`: its escapes, its checks and errors), the values prepared by its own
`prepare_filter_for_sending`; only the bytes are written here. An extensible match, the one
form left out, takes ldap3's way. `tests/unit/test_ldap_requests.py` checks the bytes
against pyasn1's encoding.
"""

from __future__ import annotations

from typing import Any

from ldap3 import (
    BASE,
    DEREF_ALWAYS,
    DEREF_BASE,
    DEREF_NEVER,
    DEREF_SEARCH,
    LEVEL,
    SEQUENCE_TYPES,
    SUBTREE,
)
from ldap3.operation import search as ldap3_search
from ldap3.protocol.convert import prepare_filter_for_sending

from apexdir.directory.ber import integer, octets, tlv

_SCOPES = {BASE: 0, LEVEL: 1, SUBTREE: 2, 0: 0, 1: 1, 2: 2}
_DEREFS = {DEREF_NEVER: 0, DEREF_SEARCH: 1, DEREF_BASE: 2, DEREF_ALWAYS: 3, 0: 0, 1: 1, 2: 2, 3: 3}
# Filter ::= CHOICE, context tags (constructed but for `present`).
_MATCHES = {
    ldap3_search.MATCH_EQUAL: 0xA3,
    ldap3_search.MATCH_GREATER_OR_EQUAL: 0xA5,
    ldap3_search.MATCH_LESS_OR_EQUAL: 0xA6,
    ldap3_search.MATCH_APPROX: 0xA8,
}


class Unsupported(Exception):
    """A filter this module does not write (an extensible match): ldap3 encodes it."""


def _value(text: Any) -> bytes:
    return octets(prepare_filter_for_sending(text))


def _attribute(node: Any) -> bytes:
    return octets(str(node.assertion["attr"]).encode("utf-8"))


def filter_ber(node: Any) -> bytes:
    """The BER of one node of ldap3's parsed filter, as its `compile_filter` and pyasn1
    would write it."""
    tag = node.tag
    if tag in (ldap3_search.AND, ldap3_search.OR) and node.elements:
        inner = b"".join(filter_ber(e) for e in node.elements)
        return tlv(0xA0 if tag == ldap3_search.AND else 0xA1, inner)
    if tag == ldap3_search.NOT:
        return tlv(0xA2, filter_ber(node.elements[0]))
    if tag in _MATCHES:
        return tlv(_MATCHES[tag], _attribute(node) + _value(node.assertion["value"]))
    if tag == ldap3_search.MATCH_PRESENT:
        return tlv(0x87, str(node.assertion["attr"]).encode("utf-8"))
    if tag == ldap3_search.MATCH_SUBSTRING:
        parts = []
        assertion = node.assertion
        if assertion.get("initial"):
            parts.append(tlv(0x80, prepare_filter_for_sending(assertion["initial"])))
        for piece in assertion.get("any") or ():
            parts.append(tlv(0x81, prepare_filter_for_sending(piece)))
        if assertion.get("final"):
            parts.append(tlv(0x82, prepare_filter_for_sending(assertion["final"])))
        return tlv(0xA4, _attribute(node) + tlv(0x30, b"".join(parts)))
    raise Unsupported(tag)


def after_base(
    search_filter: str,
    scope: Any,
    deref: Any,
    attributes: Any,
    size_limit: int,
    time_limit: int,
    types_only: bool,
    auto_escape: Any,
    auto_encode: Any,
    check_names: Any,
) -> tuple[bytes, dict[str, Any]]:
    """The request's bytes after its base, and what ldap3 keeps of it (`search_request_to_dict`,
    the filter as given). `Unsupported` for what ldap3 must encode; ldap3's own errors for a
    filter it refuses."""
    if scope not in _SCOPES or deref not in _DEREFS:
        raise Unsupported("scope")  # ldap3 raises its own error
    parse = ldap3_search.parse_filter
    root = parse(search_filter, None, auto_escape, auto_encode, None, check_names)
    names = list(attributes) if isinstance(attributes, SEQUENCE_TYPES) else ["1.1"]
    tail = (
        integer(0x0A, _SCOPES[scope])
        + integer(0x0A, _DEREFS[deref])
        + integer(0x02, size_limit)
        + integer(0x02, time_limit)
        + tlv(0x01, b"\xff" if types_only else b"\x00")
        + filter_ber(root.elements[0])
        + tlv(0x30, b"".join(octets(str(n).encode("utf-8")) for n in names))
    )
    done = {
        "scope": _SCOPES[scope],
        "dereferenceAlias": _DEREFS[deref],
        "sizeLimit": size_limit,
        "timeLimit": time_limit,
        "typesOnly": bool(types_only),
        "filter": search_filter,
        "attributes": [str(n) for n in names],
    }
    return tail, done
