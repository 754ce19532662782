"""Two slapd providers in multi-provider syncrepl: apexdir fails over, the stopped one converges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.config import Settings
from apexdir.directory.connection import Directory
from apexdir.directory.hashing import pbkdf2_sha512
from apexdir.directory.provision import initialize
from apexdir.directory.replication import ReplicaSet
from apexdir.directory.repository import Repository
from apexdir.directory.server import SlapdInstance
from apexdir.errors import AuthenticationFailed
from apexdir.runtime import Runtime
from apexdir.workflows import auth, rights
from apexdir.workflows.actors import AGENT
from apexdir.workflows.catalogue import add_application, add_profile
from apexdir.workflows.structures import create_structure
from tests.conftest import make_settings
from tests.helpers import PASSWORD, SIRET

NEW_PASSWORD = "N0uveau-Passe!42"
PPOLICY_STATE = ["pwdFailureTime", "pwdAccountLockedTime", "pwdChangedTime", "pwdHistory"]


@pytest.fixture
def rt(replicas: ReplicaSet, sinks: Any, tmp_path: Path) -> Iterator[Runtime]:
    """apexdir configured with both providers, first one preferred (apexdir.toml's order)."""
    first = replicas.instances[0]
    settings = make_settings(first, sinks, tmp_path / "state.db", ldap={"uris": replicas.uris})
    runtime = Runtime(settings, operator="tester")
    initialize(runtime.directory, runtime.layout, settings.policy)
    yield runtime
    runtime.close()


def only(settings: Settings, instance: SlapdInstance) -> Runtime:
    """apexdir configured with one provider only: what that provider alone answers."""
    ldap = settings.ldap.model_copy(update={"uris": [instance.uri]})
    return Runtime(settings.model_copy(update={"ldap": ldap}), operator="tester")


def add_account(rt: Runtime, identifier: str, first: str, last: str) -> str:
    dn = rt.layout.account_dn(identifier)
    rt.directory.add(
        dn,
        {
            "objectClass": ["inetOrgPerson", "apexAccount"],
            "uid": identifier,
            "cn": f"{first} {last}",
            "sn": last,
            "givenName": first,
            "mail": f"{identifier}@example.org",
            "userPassword": pbkdf2_sha512(PASSWORD),
            "apexAccountType": "administrateur",
            "apexStructureRef": rt.layout.structure_dn(SIRET),
            "apexStatus": "active",
        },
    )
    return dn


def state_of(replicas: ReplicaSet, instance: SlapdInstance, dn: str) -> dict[str, list[str]]:
    """What this one provider holds of an entry: memberOf, member and the ppolicy state."""
    with replicas.admin(instance) as directory:
        entry = directory.get(dn, ["memberOf", "member", *PPOLICY_STATE])
    assert entry is not None, f"{dn} missing on {instance.uri}"
    return {k: sorted(str(v) for v in entry.all(k)) for k in ["memberOf", "member", *PPOLICY_STATE]}


def test_failover_and_convergence(replicas: ReplicaSet, rt: Runtime) -> None:
    """Writes through apexdir reach both providers; with the first stopped apexdir keeps
    reading and writing on the second (habilitations, lockout, password change); the first,
    restarted, converges: entries, memberOf and the ppolicy state are the same on both."""
    one, two = replicas.instances
    create_structure(rt, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
    add_application(rt, AGENT, "SATELIT", "Satelit")
    add_profile(rt, AGENT, "SATELIT", "Consultation")
    add_profile(rt, AGENT, "SATELIT", "Saisie")
    marie = add_account(rt, "marie.martin-px", "Marie", "Martin")
    rights.grant(rt, AGENT, "marie.martin-px", "SATELIT", "Consultation")
    replicas.wait_converged()
    assert state_of(replicas, two, marie)["memberOf"] == [
        rt.layout.profile_dn("SATELIT", "Consultation")
    ]

    one.stop()
    # The same runtime: its connection to the first provider broke; it reconnects to the second.
    repo = Repository(rt.directory, rt.layout)
    assert repo.account("marie.martin-px").habilitations == ["SATELIT/Consultation"]
    rights.grant(rt, AGENT, "marie.martin-px", "SATELIT", "Saisie")
    paul = add_account(rt, "paul.durand-px", "Paul", "Durand")
    # Wrong passwords lock Marie out (ppolicy on the second provider)…
    for _ in range(rt.settings.policy.directory_lockout_failures):
        with pytest.raises(AuthenticationFailed) as refused:
            auth.login(rt, "marie.martin-px", "Mauvais-Passe-99")
        assert refused.value.reason == "invalid"
    with pytest.raises(AuthenticationFailed) as locked:
        auth.login(rt, "marie.martin-px", PASSWORD)
    assert locked.value.reason == "locked"
    # …and Paul changes his password (pwdChangedTime, pwdHistory).
    auth.change(rt, "paul.durand-px", PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    on_two = {dn: state_of(replicas, two, dn) for dn in (marie, paul)}
    assert len(on_two[marie]["memberOf"]) == 2
    assert (
        len(on_two[marie]["pwdFailureTime"]) == rt.settings.policy.directory_lockout_failures
        and on_two[marie]["pwdAccountLockedTime"]
    )
    assert len(on_two[paul]["pwdHistory"]) == 1

    one.start()
    replicas.wait_converged(timeout=20)
    for dn in (marie, paul, rt.layout.profile_dn("SATELIT", "Saisie")):
        assert state_of(replicas, one, dn) == state_of(replicas, two, dn)
    assert state_of(replicas, one, marie) == on_two[marie]
    assert state_of(replicas, one, paul) == on_two[paul]
    # The first provider alone now enforces what the second decided.
    alone = only(rt.settings, one)
    try:
        assert Repository(alone.directory, alone.layout).account("paul.durand-px")
        with pytest.raises(AuthenticationFailed) as still_locked:
            auth.login(alone, "marie.martin-px", PASSWORD)
        assert still_locked.value.reason == "locked"
        assert auth.login(alone, "paul.durand-px", NEW_PASSWORD)["identifier"] == "paul.durand-px"
        # And a write on the first alone reaches the second.
        rights.revoke(alone, AGENT, "marie.martin-px", "SATELIT", "Consultation")
    finally:
        alone.close()
    replicas.wait_converged()
    assert state_of(replicas, two, marie)["memberOf"] == [rt.layout.profile_dn("SATELIT", "Saisie")]


def test_a_fresh_client_fails_over(replicas: ReplicaSet, rt: Runtime) -> None:
    """With the first provider down from the start, a new connection goes to the second."""
    replicas.instances[0].stop()
    fresh = Runtime(rt.settings, operator="tester")
    try:
        create_structure(fresh, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
        assert Repository(fresh.directory, fresh.layout).structure(SIRET).name == "Banque Exemple"
    finally:
        fresh.close()
    replicas.instances[0].start()
    replicas.wait_converged(timeout=20)
    with Directory(only(rt.settings, replicas.instances[0]).settings.ldap) as first:
        assert first.exists(rt.layout.structure_dn(SIRET))


def test_logins_fail_over_with_idle_pooled_connections(replicas: ReplicaSet, rt: Runtime) -> None:
    """The first login after a provider stops succeeds on the other, whatever the pool holds."""
    from apexdir.directory import ppolicy

    settings = rt.settings.ldap
    pool = ppolicy.pool_for(settings)
    with pool.connection(), pool.connection():
        pass  # two idle connections to the first provider, as a busy portal keeps
    replicas.instances[0].stop()
    outcome = ppolicy.authenticate(settings, settings.bind_dn, settings.password())
    assert outcome.ok
