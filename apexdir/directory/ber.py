"""The few BER forms apexdir writes itself for LDAP requests (X.690 §8.1: definite lengths,
in their shortest form, as pyasn1's encoder writes them)."""

from __future__ import annotations


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(size),)) + size


def tlv(tag: int, value: bytes) -> bytes:
    """One element: its tag, the length of `value`, `value`."""
    return bytes((tag,)) + length(len(value)) + value


def octets(value: bytes) -> bytes:
    """An OCTET STRING (universal tag 4): LDAP's strings and DNs."""
    return tlv(0x04, value)


def integer(tag: int, n: int) -> bytes:
    """An INTEGER or ENUMERATED (`tag`): two's complement in the fewest bytes."""
    return tlv(tag, n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True))
