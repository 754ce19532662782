"""The one DN parser (apexdir/directory/dn.py): what the bulk load, the mapping and the
change feed compare and cut, with and without RFC 4514 escapes."""

from __future__ import annotations

from datetime import UTC, datetime

from apexdir.directory.dn import is_below, is_child, norm, parent, rdn_value
from apexdir.workflows.notify import personal_data

PEOPLE = "ou=people,dc=apex,dc=fr"


def test_norm_ignores_case_and_spaces_but_keeps_escapes() -> None:
    assert norm("UID=Marie, OU=People,dc=apex, dc=fr") == "uid=marie,ou=people,dc=apex,dc=fr"
    assert norm("cn=Dupont\\, Marie , ou=x") == "cn=dupont\\, marie,ou=x"
    assert norm(" cn = a\\2Cb ,ou=x") == "cn=a\\2cb,ou=x"


def test_parent_and_first_value_with_and_without_escapes() -> None:
    assert parent("uid=m,ou=people,dc=apex,dc=fr") == PEOPLE
    assert parent("cn=Dupont\\, Marie, ou=people,dc=apex,dc=fr") == PEOPLE
    assert rdn_value("uid=marie.martin,ou=people") == "marie.martin"
    assert rdn_value("cn=Dupont\\, Marie,ou=people") == "Dupont, Marie"


def test_where_an_entry_sits() -> None:
    assert is_child("UID=m, ou=People,dc=apex,dc=fr", PEOPLE)
    assert not is_child("cn=x,uid=m,ou=people,dc=apex,dc=fr", PEOPLE)
    assert not is_child(PEOPLE, PEOPLE)
    apps = "ou=applications,dc=apex,dc=fr"
    assert is_below("cn=LECTEUR,cn=APP1," + apps, apps, depth=2)
    assert not is_below("cn=APP1," + apps, apps, depth=2)


def test_the_personal_data_mail_goes_to_the_old_and_the_new_address() -> None:
    """One function for the CLI, the portal and the change feed: Paris time, seconds."""
    when = datetime(2026, 7, 1, 10, 0, 5, tzinfo=UTC)
    mails = personal_data("m-martin", "old@example.org", "New@example.org", when)
    assert [m.to for m in mails] == [["old@example.org"], ["New@example.org"]]
    assert mails[0].context == {
        "date": "01/07/2026",
        "heure": "12:00:05",
        "identifiant": "m-martin",
    }
    assert len(personal_data("m-martin", "a@example.org", "A@example.org", when)) == 1
    assert len(personal_data("m-martin", "a@example.org", None, when)) == 1
