"""ldap3's add, modify and delete requests, encoded here straight from apexdir's values.

ldap3 builds a write as pyasn1 objects, one per attribute and per value (each through four
reads of its configuration), then pyasn1's BER encoder walks them, all in pure Python: an
account's creation cost 1.9 ms of building and 1.5 ms of encoding, more than slapd took to
write it. The BER of these three requests is short (RFC 4511 §4.6–4.8), so it is written
here, from the values ldap3 itself would have sent (its own `validate_attribute_value` and
`prepare_for_sending`): ldap3 is handed one request object per kind, made once, and what
goes on the wire is the bytes made for this request (`underway`, as for searches). A value
this encoding does not know (not bytes once ldap3 has converted it) takes ldap3's own way,
errors included.
`tests/unit/test_ldap_requests.py` checks the bytes against pyasn1's own encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ldap3 import SEQUENCE_TYPES
from ldap3.core import connection as ldap3_connection
from ldap3.operation import add as ldap3_add
from ldap3.operation import delete as ldap3_delete
from ldap3.operation import modify as ldap3_modify
from ldap3.protocol.convert import prepare_for_sending, validate_attribute_value
from ldap3.strategy import base as ldap3_base

from apexdir.directory import underway
from apexdir.directory.ber import integer, octets, tlv

_build_add = ldap3_add.add_operation
_build_modify = ldap3_modify.modify_operation
_build_delete = ldap3_delete.delete_operation
_add_to_dict = ldap3_add.add_request_to_dict
_modify_to_dict = ldap3_modify.modify_request_to_dict
_delete_to_dict = ldap3_delete.delete_request_to_dict

# The one request object of each kind ldap3 is handed (it only places it in its message;
# `kept_requests` refuses to send one without the bytes held for it).
_ADD = _build_add("", {"objectClass": [b"top"]}, False)
_MODIFY = _build_modify("", {"cn": [(ldap3_modify.MODIFY_REPLACE, [b"x"])]}, False)
_DELETE = _build_delete("")
PLACEHOLDERS = (_ADD, _MODIFY, _DELETE)


def _values(name: str, values: Any, auto_encode: Any, check_names: Any) -> list[bytes] | None:
    """The values as ldap3 sends them (no schema: apexdir's servers carry none); None when
    one is not bytes then, for ldap3 to handle."""
    items = values if isinstance(values, SEQUENCE_TYPES) else [values]
    out = []
    for value in items:
        raw = prepare_for_sending(
            validate_attribute_value(None, name, value, auto_encode, None, check_names=check_names)
        )
        if not isinstance(raw, bytes):
            return None
        out.append(raw)
    return out


def _attribute(name: str, values: list[bytes]) -> bytes:
    """PartialAttribute ::= SEQUENCE { type, vals SET OF value }."""
    return tlv(0x30, octets(name.encode("utf-8")) + tlv(0x31, b"".join(map(octets, values))))


def _add_operation(dn: Any, attributes: Any, auto_encode: Any, schema: Any = None,
                   validator: Any = None, check_names: Any = False) -> Any:  # fmt: skip
    """ldap3's `add_operation`: AddRequest ::= [APPLICATION 8] SEQUENCE { entry, attributes }."""
    underway.clear()
    if schema is None and validator is None and isinstance(dn, str):
        parts, kept = [], {}
        for name in attributes:
            values = _values(name, attributes[name], auto_encode, check_names)
            if values is None:
                break
            parts.append(_attribute(name, values))
            kept[name] = values
        else:
            body = octets(dn.encode("utf-8")) + tlv(0x30, b"".join(parts))
            return underway.hold(_ADD, tlv(0x68, body), {"entry": dn, "attributes": kept})
    return _build_add(dn, attributes, auto_encode, schema, validator, check_names)


def _modify_operation(dn: Any, changes: Mapping[str, Any], auto_encode: Any, schema: Any = None,
                      validator: Any = None, check_names: Any = False) -> Any:  # fmt: skip
    """ldap3's `modify_operation`: ModifyRequest ::= [APPLICATION 6] SEQUENCE { object,
    changes SEQUENCE OF SEQUENCE { operation ENUMERATED, modification PartialAttribute } }."""
    underway.clear()
    if schema is None and validator is None and isinstance(dn, str):
        parts, kept = [], []
        for name in changes:
            for operation, given in changes[name]:
                code = ldap3_modify.change_table.get(operation)
                values = _values(name, given, auto_encode, check_names)
                if code is None or values is None:
                    return _build_modify(dn, changes, auto_encode, schema, validator, check_names)
                parts.append(tlv(0x30, integer(0x0A, code) + _attribute(name, values)))
                kept.append({"operation": code, "attribute": {"type": name, "value": values}})
        body = octets(dn.encode("utf-8")) + tlv(0x30, b"".join(parts))
        return underway.hold(_MODIFY, tlv(0x66, body), {"entry": dn, "changes": kept})
    return _build_modify(dn, changes, auto_encode, schema, validator, check_names)


def _delete_operation(dn: Any) -> Any:
    """ldap3's `delete_operation`: DelRequest ::= [APPLICATION 10] LDAPDN."""
    underway.clear()
    if isinstance(dn, str):
        return underway.hold(_DELETE, tlv(0x4A, dn.encode("utf-8")), {"entry": dn})
    return _build_delete(dn)


def install() -> None:
    """Put these requests in ldap3's place (once per process, by `kept_requests.install`)."""
    ldap3_connection.add_operation = _add_operation
    ldap3_connection.modify_operation = _modify_operation
    ldap3_connection.delete_operation = _delete_operation
    ldap3_base.add_request_to_dict = underway.to_dict(_add_to_dict)
    ldap3_base.modify_request_to_dict = underway.to_dict(_modify_to_dict)
    ldap3_base.delete_request_to_dict = underway.to_dict(_delete_to_dict)
