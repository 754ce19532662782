"""The search requests apexdir keeps (apexdir.directory.connection): what goes on the wire is
byte for byte what ldap3 and pyasn1 would have sent, whatever the base. No server."""

from __future__ import annotations

from typing import Any

import ldap3
import pytest
from ldap3.protocol.convert import build_controls_list
from ldap3.protocol.rfc2696 import paged_search_control
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp

from apexdir.directory import connection as c
from apexdir.directory import kept_requests as k

BASES = [
    "dc=e",
    "",
    "uid=marie.martin-px,ou=people,dc=apex,dc=example",
    "uid=é" + "z" * 130 + ",dc=e",  # non-ASCII, a length over 127
    "uid=" + "y" * 300 + ",ou=people,dc=e",  # a length over 255
]
FILTERS = ["(objectClass=*)", "(&(objectClass=apexOidcGrant)(apexExpiresAt<=20261206))"]
ATTRIBUTES: list[Any] = [["1.1"], ["uid", "cn"] * 40, ["*"], None]


def message(request: Any, number: int, controls: Any = None) -> Any:
    out = LDAPMessage()
    out["messageID"] = MessageID(number)
    out["protocolOp"] = ProtocolOp().setComponentByName("searchRequest", request)
    built = build_controls_list(controls)
    if built is not None:
        out["controls"] = built
    return out


@pytest.mark.parametrize("number", [0, 1, 127, 128, 255, 256, 40_000, 2**31 - 1])
def test_kept_searches_are_sent_as_ldap3_would(number: int) -> None:
    for attributes in ATTRIBUTES:
        for search_filter in FILTERS:
            for base in BASES:
                for controls in (None, [paged_search_control(False, 500, b"cookie")]):
                    args = (base, search_filter, ldap3.LEVEL, ldap3.DEREF_NEVER, attributes)
                    args += (0, 0, False, True, None, None)
                    built = k._build_search(*args, validator=None, check_names=True)
                    kept = k._search_operation(*args, validator=None, check_names=True)
                    # ldap3's order: the request, what it keeps of it, then its encoding.
                    assert k._search_request_to_dict(kept) == k._to_dict(built)
                    sent = k._encode_message(message(kept, number, controls))
                    assert sent == bytes(k._encode(message(built, number, controls)))
                    assert k._SENT.search is None  # forgotten once sent


def test_a_kept_request_is_never_sent_with_another_base() -> None:
    args = ("uid=a,dc=e", "(objectClass=*)", ldap3.BASE, ldap3.DEREF_NEVER, ["sn"], 0, 0)
    first = k._search_operation(*args, False, True, None, None, validator=None)
    k._encode_message(message(first, 1))
    kept = k._search_operation("uid=b,dc=e", *args[1:], False, True, None, None, validator=None)
    assert kept is first
    k._SENT.search = None  # as if its bytes were lost: refused, not sent with uid=a
    with pytest.raises(RuntimeError):
        k._encode_message(message(kept, 2))


def test_a_base_that_cannot_be_encoded_fails_as_before() -> None:
    for _ in range(2):  # building the shape, then from the kept shape
        with pytest.raises(UnicodeEncodeError):
            k._search_operation(
                "uid=\udc80,dc=e", "(objectClass=*)", ldap3.BASE, ldap3.DEREF_NEVER, ["uid"],
                0, 0, False, True, None, None, validator=None, check_names=True,
            )  # fmt: skip


def test_entry_names_in_any_case() -> None:
    entry = c.Entry("uid=x,dc=e", {"givenName": ["Marie"], "sn": "Martin"})
    assert entry.get("givenName") == "Marie"
    assert entry.get("givenname") == "Marie"
    assert entry.all("SN") == ["Martin"]
    assert entry.all("mail") == []
    entry.attrs["mail"] = ["m@x"]
    assert entry.get("MAIL") == "m@x"
