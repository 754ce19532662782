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
from apexdir.directory import underway
from apexdir.directory import write_requests as w

BASES = [
    "dc=e",
    "",
    "uid=marie.martin-px,ou=people,dc=apex,dc=example",
    "uid=é" + "z" * 130 + ",dc=e",  # non-ASCII, a length over 127
    "uid=" + "y" * 300 + ",ou=people,dc=e",  # a length over 255
]
FILTERS = ["(objectClass=*)", "(&(objectClass=apexOidcGrant)(apexExpiresAt<=20261206))"]
ATTRIBUTES: list[Any] = [["1.1"], ["uid", "cn"] * 40, ["*"], None]


def message(request: Any, number: int, controls: Any = None, kind: str = "searchRequest") -> Any:
    """An LDAPMessage of ldap3's making around `request` (a `kind` of protocolOp)."""
    out = LDAPMessage()
    out["messageID"] = MessageID(number)
    out["protocolOp"] = ProtocolOp().setComponentByName(kind, request)
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
                    assert underway.held() is None  # forgotten once sent


def test_a_kept_request_is_never_sent_with_another_base() -> None:
    args = ("uid=a,dc=e", "(objectClass=*)", ldap3.BASE, ldap3.DEREF_NEVER, ["sn"], 0, 0)
    first = k._search_operation(*args, False, True, None, None, validator=None)
    k._encode_message(message(first, 1))
    kept = k._search_operation("uid=b,dc=e", *args[1:], False, True, None, None, validator=None)
    assert kept is first
    underway.clear()  # as if its bytes were lost: refused, not sent with uid=a
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


# -- writes (apexdir.directory.write_requests) ----------------------------------------------

LONG = "é" * 200  # a length over 255 once encoded
VALUES: list[Any] = [
    "Marie",
    ["a", "b", "c"],
    b"{ARGON2}$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA\x00\x07",  # bytes, a NUL
    LONG,
    ["x" * 70_000],  # a length over 65535
    42,
    [],
]
DNS = ["uid=marie.martin-px,ou=people,dc=e", "cn=é " + "z" * 300 + ",dc=e", ""]


def test_adds_are_sent_as_ldap3_would() -> None:
    for dn in DNS:
        for size in (1, 3, 40):  # attribute lists short, and over 127 bytes
            attributes = {"objectClass": ["top", "apexPerson"]}
            attributes.update({f"attr{i}": VALUES[i % 6] for i in range(size)})
            for number in (1, 128, 40_000):
                made = w._add_operation(dn, attributes, True, None, None, False)
                assert made is w._ADD
                sent = k._encode_message(message(made, number, kind="addRequest"))
                built = w._build_add(dn, attributes, True, None, None, False)
                assert sent == bytes(k._encode(message(built, number, kind="addRequest")))


def test_modifies_and_deletes_are_sent_as_ldap3_would() -> None:
    operations = [
        ldap3.MODIFY_ADD,
        ldap3.MODIFY_DELETE,
        ldap3.MODIFY_REPLACE,
        ldap3.MODIFY_INCREMENT,
    ]
    for dn in DNS:
        for i, operation in enumerate(operations):
            changes = {
                "sn": [(operation, VALUES[i])],
                "mail": [(ldap3.MODIFY_DELETE, ["old@x"]), (ldap3.MODIFY_ADD, ["new@x"])],
                "description": [(operation, VALUES[(i + 3) % len(VALUES)])],
            }
            for number, controls in ((1, None), (300, [("1.3.6.1.1.12", True, None)])):
                made = w._modify_operation(dn, changes, True, None, None, False)
                assert made is w._MODIFY
                sent = k._encode_message(message(made, number, controls, kind="modifyRequest"))
                built = w._build_modify(dn, changes, True, None, None, False)
                want = message(built, number, controls, kind="modifyRequest")
                assert sent == bytes(k._encode(want))
        for number in (1, 128, 2**31 - 1):
            made = w._delete_operation(dn)
            sent = k._encode_message(message(made, number, kind="delRequest"))
            built = w._build_delete(dn)
            assert sent == bytes(k._encode(message(built, number, kind="delRequest")))


def test_a_write_placeholder_is_never_sent_without_its_bytes() -> None:
    made = w._delete_operation("uid=a,dc=e")
    k._encode_message(message(made, 1, kind="delRequest"))  # its bytes, once
    with pytest.raises(RuntimeError):
        k._encode_message(message(made, 2, kind="delRequest"))


def test_a_value_ldap3_would_refuse_takes_ldap3s_way() -> None:
    odd = {"objectClass": ["top"], "when": [object()]}
    with pytest.raises(Exception) as made:
        w._add_operation("uid=a,dc=e", odd, True, None, None, False)
    with pytest.raises(Exception) as built:
        w._build_add("uid=a,dc=e", odd, True, None, None, False)
    assert type(made.value) is type(built.value)


# -- searches whose shape is new (apexdir.directory.search_ber) -----------------------------

MORE_FILTERS = [
    "(uid=marie.martin-px)",
    "(mail=é" + "x" * 300 + "@example.org)",  # a value over 255 bytes once encoded
    r"(cn=a\2a\28\29\5cb\00)",  # escaped specials and NUL
    "(cn=*)",
    "(cn=ab*)",
    "(cn=*ab)",
    "(cn=a*b*c*d)",
    "(cn=*b*c*)",
    "(entryCSN>=20261206194356.000007Z#000000#000#000000)",
    "(apexExpiresAt<=20261206)",
    "(sn~=martin)",
    "(!(apexStatus=deleted))",
    "(|(uid=a)(mail=b)(&(objectClass=apexAccount)(!(cn=c*))))",
    "(&" + "(uid=u)" * 40 + ")",  # a filter over 255 bytes
]


@pytest.mark.parametrize("search_filter", MORE_FILTERS)
def test_new_shapes_are_sent_as_ldap3_would(search_filter: str) -> None:
    for attributes in ATTRIBUTES:
        for scope, deref in ((ldap3.BASE, ldap3.DEREF_NEVER), (ldap3.SUBTREE, ldap3.DEREF_ALWAYS)):
            for limits in ((0, 0, False), (500, 30, True), (2**31 - 1, 127, False)):
                args = ("uid=a,dc=e", search_filter, scope, deref, attributes, *limits, True, None)
                k._SHAPES.clear()
                made = k._search_operation(*args, validator=None, check_names=True)
                assert made is k._PLACEHOLDER  # written here, not by pyasn1
                built = k._build_search(*args, None, None, check_names=True)
                # ldap3's order: the request, what it keeps of it (the filter as given
                # here), then its encoding.
                kept = k._search_request_to_dict(made)
                assert {**kept, "filter": None} == {**k._to_dict(built), "filter": None}
                assert kept["filter"] == search_filter
                sent = k._encode_message(message(made, 7))
                assert sent == bytes(k._encode(message(built, 7)))


def test_a_placeholder_is_never_sent_without_its_bytes() -> None:
    k._SHAPES.clear()
    args = ("dc=e", "(uid=x)", ldap3.BASE, ldap3.DEREF_NEVER, ["cn"], 0, 0, False, True, None)
    made = k._search_operation(*args, validator=None)
    underway.clear()  # as if its bytes were lost: refused, not sent as the placeholder
    k._SHAPES.clear()
    with pytest.raises(RuntimeError):
        k._encode_message(message(made, 1))


def test_what_search_ber_leaves_to_ldap3() -> None:
    k._SHAPES.clear()
    args = ("dc=e", "(cn:caseExactMatch:=Marie)", ldap3.BASE, ldap3.DEREF_NEVER, ["cn"], 0, 0)
    made = k._search_operation(*args, False, True, None, validator=None, check_names=True)
    assert made is not k._PLACEHOLDER  # an extensible match: ldap3 and pyasn1 encode it
    built = k._build_search(*args, False, True, None, None, None, check_names=True)
    assert k._encode_message(message(made, 1)) == bytes(k._encode(message(built, 1)))
    for bad in ("(cn=x", "cn=x)", "(&(cn=x)"):  # ldap3's own refusal, whichever way
        with pytest.raises(ldap3.core.exceptions.LDAPInvalidFilterError):
            k._search_operation("dc=e", bad, *args[2:], False, True, None, validator=None)
