"""Issue 12 item 6: what the directory and its accesslog keep of codes and passwords.

slapd 2.5's accesslog cannot leave attributes out (no `logattrs`), so what it records of a
secret must be useless offline: login and reset codes as an HMAC under a key kept outside
the directory, passwords only as slapd's salted hash, never a cleartext.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.config import Settings
from apexdir.directory.connection import Directory
from apexdir.directory.server import SlapdInstance
from apexdir.rules import onetime
from apexdir.runtime import Runtime
from tests.auth.conftest import Partner, codes_mailed, sms_codes
from tests.conftest import BASE_DN, admin, fresh_store, make_settings, write_config
from tests.helpers import PASSWORD, SIRET, Cli, plain_sha256_search, register_sinks

NEW_PASSWORD = "Autre-Passw0rd!9"


def _records(rt: Runtime, *dns: str) -> list[Any]:
    """The accesslog's records of writes to these entries."""
    wanted = "(|" + "".join(f"(reqDN={dn})" for dn in dns) + ")"
    with Directory(rt.settings.ldap) as directory:
        return directory.search(
            "cn=accesslog", f"(&(objectClass=auditWriteObject){wanted})", ["reqMod"],
            paged=False,
        )  # fmt: skip


def _logged(
    rt: Runtime, attribute: str, *dns: str, before: frozenset[str] = frozenset()
) -> list[str]:
    """The values the accesslog holds for `attribute` (reqMod `attr:op value`) in writes to
    these entries, but for the records `before` (the log is shared by the whole session's
    tests, and an identifier is given again once the tree is wiped: a time of the test's
    own start did not tell, slapd's reqStart and a fast previous test being in its second)."""
    prefix = attribute.lower() + ":"
    values = []
    for entry in _records(rt, *dns):
        if entry.dn in before:
            continue
        for raw in entry.all("reqMod"):
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            if text.lower().startswith(prefix):
                values.append(text.split(" ", 1)[1] if " " in text else "")
    return values


def _cannot_be_reversed(value: str) -> None:
    """A record whose code the 10^6 salted SHA-256 tries do not find (pre-issue 12 form)."""
    record = onetime.parse(value)
    assert record is not None and value.startswith("v2;"), value
    assert plain_sha256_search(record.salt, record.digest) is None


def test_codes_in_the_entry_and_the_accesslog_need_the_key(
    app_cli: Cli, rt: Runtime, partner: Partner, mobile_partner: Partner, sinks: Any
) -> None:
    """Login code and SMS reset code: HMAC records (v2), not reversible without the key."""
    dns = (partner.dn, mobile_partner.dn)
    before = frozenset(e.dn for e in _records(rt, *dns))
    app_cli.ok("login", partner.identifier, input=f"{PASSWORD}\n")
    code = codes_mailed(app_cli, partner.mail)[-1]
    app_cli.ok("password", "forgot", mobile_partner.identifier)
    assert mobile_partner.mobile and sms_codes(app_cli, sinks, mobile_partner.mobile)
    stored = rt.directory.get(partner.dn, ["apexLoginCode"])
    assert stored is not None
    record = onetime.parse(stored.get("apexLoginCode"))
    assert record is not None and code not in str(stored.get("apexLoginCode"))
    key = rt.settings.ldap.secrets_key()
    assert onetime.check(record, code, rt.clock(), key=key) is onetime.Verdict.OK
    assert onetime.check(record, code, rt.clock(), key=b"another key" * 4) is onetime.Verdict.WRONG
    logged = _logged(rt, "apexLoginCode", *dns, before=before) + _logged(
        rt, "apexResetSecret", *dns, before=before
    )
    assert len(logged) >= 2
    for value in {v for v in logged if v}:  # each distinct record once
        _cannot_be_reversed(value)


def test_no_cleartext_password_reaches_the_accesslog(
    app_cli: Cli, rt: Runtime, partner: Partner
) -> None:
    """Creation and a change through slapd: the log holds {ARGON2} hashes only."""
    app_cli.ok("password", "change", partner.identifier,
               input=f"{PASSWORD}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")  # fmt: skip
    requests = [
        e.dn
        for e in rt.directory.search(rt.layout.requests_dn, "(objectClass=apexRequest)", ["1.1"])
    ]
    values = _logged(rt, "userPassword", partner.dn) + _logged(rt, "apexPendingPassword", *requests)
    assert values
    for value in values:
        assert PASSWORD not in value and NEW_PASSWORD not in value
        assert not value or value.startswith("{ARGON2}$argon2"), value


@pytest.fixture
def production(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,  # its teardown empties the sinks this directory's mails go to
    sinks: Any,
    tmp_path: Path,
    _state_template: bytes,
) -> Iterator[tuple[Cli, SlapdInstance]]:
    """A directory at the product's argon2 cost (the tests' own is lower), apexdir hashing
    at the product's cost too, and the CLI bound to them."""
    from apexdir.directory import hashing
    from apexdir.directory.provision import initialize

    cost = (hashing.ARGON2_MEMORY_KIB, hashing.ARGON2_TIME)
    monkeypatch.setattr(hashing, "COST", cost)
    instance = SlapdInstance(tmp_path / "slapd", base_dn=BASE_DN, dbnosync=True, argon2_cost=cost)
    instance.start()
    try:
        own = make_settings(instance, sinks, fresh_store(tmp_path / "own.db", _state_template))
        with Directory(own.ldap) as directory:
            initialize(directory, Runtime(own).layout, own.policy)
        config = write_config(own, tmp_path / "own.toml")
        register_sinks(config, sinks.directory)
        yield Cli(config), instance
    finally:
        instance.destroy()


def test_passwords_are_argon2_with_owasp_cost(production: tuple[Cli, SlapdInstance]) -> None:
    """Issue 12: the account made from the form carries apexdir's argon2id (clean); a change
    through slapd stores the module's argon2i, m=19 MiB t=2 p=1, with the module's two
    trailing bytes, and both verify at bind."""
    import ldap3

    from apexdir.directory.hashing import clean

    cli, slapd = production
    cli.create_structure(SIRET, "Banque Exemple", "Comptabilité")
    identifier = cli.create_account(SIRET, "collaborateur", "marie.martin@example.org",
                                    "Marie", "Martin", service="Comptabilité")  # fmt: skip
    dn = slapd.layout.account_dn(identifier)

    def stored() -> str:
        with admin(slapd) as directory:
            entry = directory.get(dn, ["userPassword"])
        assert entry is not None
        value = entry.get("userPassword")
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def binds(password: str) -> bool:
        conn = ldap3.Connection(slapd.uri, dn, password, receive_timeout=10)
        try:
            return bool(conn.bind())
        finally:
            conn.unbind()

    assert stored().startswith("{ARGON2}$argon2id$v=19$m=19456,t=2,p=1$")
    assert binds(PASSWORD)
    cli.ok("password", "change", identifier,
           input=f"{PASSWORD}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")  # fmt: skip
    value = stored()
    assert value.startswith("{ARGON2}$argon2i$v=19$m=19456,t=2,p=1$")
    assert "\x00" in value and "\x00" not in clean(value)  # the module's trailing bytes
    assert binds(NEW_PASSWORD) and not binds(PASSWORD)
