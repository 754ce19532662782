"""The one LDIF writer (apexdir.directory.ldif): text and raw bytes, read back the same."""

from __future__ import annotations

import base64

from apexdir.directory import ldif


def test_safe_values_are_written_as_they_are_the_others_in_base64() -> None:
    """Printable ASCII goes out plain; spaces at the ends, a leading ':' or '<', control
    characters and non-ASCII text are base64-encoded."""
    assert ldif.line("cn", "Jean Dupont") == "cn: Jean Dupont\n"
    for value in (" lead", "trail ", ":colon", "<angle", "tab\there", "Émilie"):
        encoded = base64.b64encode(value.encode("utf-8")).decode()
        assert ldif.line("cn", value) == f"cn:: {encoded}\n", value


def test_raw_bytes_keep_every_byte() -> None:
    """A backup's values are the bytes slapd holds: an argon2 hash ending with a NUL and a
    stray byte, or bytes that are not UTF-8, survive as base64; plain ASCII stays plain."""
    argon = b"{ARGON2}$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA\x00\x9c"
    assert ldif.line("userPassword", argon) == (
        f"userPassword:: {base64.b64encode(argon).decode()}\n"
    )
    assert ldif.line("uid", b"jean.dupont-px") == "uid: jean.dupont-px\n"


def test_dump_and_render_write_the_same_records_read_back_by_parse() -> None:
    """dump (per record) and render (chunks, with the plan's None/one-value shapes) agree,
    and parse reads back what they wrote."""
    records = [
        ("uid=a,ou=people,dc=x", {"objectClass": ["top", "apexAccount"], "cn": ["Ané B"]}),
        ("uid=b,ou=people,dc=x", {"description": [" x", "y "], "mail": ["b@x.fr"]}),
    ]
    dumped = "".join(ldif.dump(records))
    shaped = [
        ("uid=a,ou=people,dc=x", {"objectClass": ["top", "apexAccount"], "cn": "Ané B",
                                  "mobile": None}, ()),
        ("uid=b,ou=people,dc=x", {"description": [" x", "y "]}, (("mail", "b@x.fr"),)),
    ]  # fmt: skip
    assert "".join(ldif.render(shaped)) == dumped
    assert list(ldif.parse(dumped)) == records
