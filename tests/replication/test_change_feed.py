"""The change feed with two providers: a write made on either is journaled and mailed once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest

from apexdir.daemon.jobs import changes
from apexdir.daemon.jobs.outbox import deliver
from apexdir.dev.captured import captured_mails, clear
from apexdir.directory.hashing import pbkdf2_sha512
from apexdir.directory.provision import initialize
from apexdir.directory.replication import ReplicaSet
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from apexdir.state.jobs import get_cursor, set_cursor
from apexdir.workflows import changefeed
from apexdir.workflows.actors import AGENT
from apexdir.workflows.catalogue import add_application, add_profile
from apexdir.workflows.structures import create_structure
from tests.conftest import make_settings
from tests.helpers import PASSWORD, SIRET

WITHDRAWAL = "APEX Partenaires – Retrait de profils applicatifs"
ATTRIBUTION = "APEX Partenaires – Attribution de profils applicatifs"
NOTHING = {"changes": 0, "notified": 0}


@pytest.fixture
def rt(replicas: ReplicaSet, sinks: Any, tmp_path: Path) -> Iterator[Runtime]:
    """apexdir with both providers, a profile whose only member is Marie, the feed started."""
    settings = make_settings(
        replicas.instances[0], sinks, tmp_path / "state.db", ldap={"uris": replicas.uris}
    )
    runtime = Runtime(settings, operator="tester")
    initialize(runtime.directory, runtime.layout, settings.policy)
    create_structure(runtime, AGENT, siret=SIRET, category="Banques", name="Banque Exemple")
    add_application(runtime, AGENT, "SATELIT", "Satelit")
    add_profile(runtime, AGENT, "SATELIT", "Consultation")
    for identifier in ("marie", "paul", "zoe"):
        add_account(runtime, identifier)
    runtime.directory.modify(profile(runtime), {"member": [("add", [account(runtime, "marie")])]})
    replicas.wait_converged()
    assert "started_at" in changes.run(runtime)
    clear(sinks.directory)
    yield runtime
    runtime.close()
    clear(sinks.directory)


def add_account(rt: Runtime, identifier: str) -> None:
    rt.directory.add(
        account(rt, identifier),
        {
            "objectClass": ["inetOrgPerson", "apexAccount"],
            "uid": f"{identifier}-cf",
            "cn": identifier.title(),
            "sn": identifier.title(),
            "mail": f"{identifier}.feed@example.org",
            "userPassword": pbkdf2_sha512(PASSWORD),
            "apexAccountType": "administrateur",
            "apexStructureRef": rt.layout.structure_dn(SIRET),
            "apexStatus": "active",
        },
    )


def account(rt: Runtime, identifier: str) -> str:
    return rt.layout.account_dn(f"{identifier}-cf")


def profile(rt: Runtime) -> str:
    return rt.layout.profile_dn("SATELIT", "Consultation")


def replace_members(instance: SlapdInstance, rt: Runtime, *identifiers: str) -> None:
    """A whole-list replace by a client that is not apexdir (an agent's ldapmodify)."""
    members = [account(rt, i) for i in identifiers]
    conn = ldap3.Connection(instance.uri, instance.layout.admin_dn, instance.admin_password(),
                            auto_bind=True, raise_exceptions=True)  # fmt: skip
    try:
        conn.modify(profile(rt), {"member": [(ldap3.MODIFY_REPLACE, members)]})
    finally:
        conn.unbind()


def add_member(instance: SlapdInstance, rt: Runtime, identifier: str) -> None:
    conn = ldap3.Connection(instance.uri, instance.layout.admin_dn, instance.admin_password(),
                            auto_bind=True, raise_exceptions=True)  # fmt: skip
    try:
        conn.modify(profile(rt), {"member": [(ldap3.MODIFY_ADD, [account(rt, identifier)])]})
    finally:
        conn.unbind()


def attributions(rt: Runtime, sinks: Any) -> dict[str, int]:
    """Deliver the spool; how many attribution mails each partner received."""
    asyncio.run(deliver(rt.settings, rt.db, rt.clock, worker="test"))
    received = {}
    for identifier in ("marie", "paul", "zoe"):
        mails = captured_mails(sinks.directory, to=f"{identifier}.feed@example.org")
        received[identifier] = sum(m["subject"] == ATTRIBUTION for m in mails)
    return received


def feed_of(rt: Runtime) -> list[dict[str, Any]]:
    """The journal entries of the profile written by the feed."""
    return [
        e
        for e in rt.journal.entries()
        if e["action"].startswith("ldap.") and e["target"] == profile(rt)
    ]


def test_a_replace_on_either_provider_is_notified_once(
    replicas: ReplicaSet, rt: Runtime, sinks: Any
) -> None:
    """A whole-list replace made on the second provider mails the one partner it added,
    once, and is journaled once although both logs hold it; the same on the first."""
    one, two = replicas.instances
    replace_members(two, rt, "marie", "paul")
    replicas.wait_converged()
    assert changes.run(rt) == {"changes": 1, "notified": 1}
    assert changes.run(rt) == NOTHING, "read in both logs, handled once"
    assert attributions(rt, sinks) == {"marie": 0, "paul": 1, "zoe": 0}
    [entry] = feed_of(rt)
    assert entry["details"]["members_added"] == [account(rt, "paul")]
    assert entry["details"]["csn"].split("#")[2] == "002", "made on the second provider"
    assert entry["operator"] == f"ldap:{one.layout.admin_dn}"

    # On the first provider: its log holds the replace, the second's the difference.
    # Zoe is told of her attribution, Marie of her withdrawal (issue 21), each once.
    replace_members(one, rt, "paul", "zoe")
    replicas.wait_converged()
    assert changes.run(rt) == {"changes": 1, "notified": 2}
    assert changes.run(rt) == NOTHING
    assert attributions(rt, sinks) == {"marie": 0, "paul": 1, "zoe": 1}
    withdrawals = captured_mails(sinks.directory, to="marie.feed@example.org")
    assert [m["subject"] for m in withdrawals].count(WITHDRAWAL) == 1
    latest = feed_of(rt)[-1]
    assert latest["details"]["members_added"] == [account(rt, "zoe")]
    assert latest["details"]["members_removed"] == [account(rt, "marie")]
    assert len(feed_of(rt)) == 2


def test_a_provider_down_does_not_stop_the_feed(
    replicas: ReplicaSet, rt: Runtime, sinks: Any
) -> None:
    """With one provider down the other's log is read; a replace waits for its copy; the
    changes of the provider that was down are read when it is back, once."""
    one, two = replicas.instances
    # The first provider down: the replace on the second has no copy to tell who was added.
    one.stop()
    replace_members(two, rt, "marie", "paul")
    waiting = changes.run(rt)
    assert waiting == {**NOTHING, "waiting": 1, "unavailable": [one.uri]}
    one.start()
    replicas.wait_converged(timeout=20)
    assert changes.run(rt) == {"changes": 1, "notified": 1}
    assert changes.run(rt) == NOTHING

    # A change the second provider alone holds while it is down: read when it is back.
    one.stop()
    add_member(two, rt, "zoe")
    two.stop()
    one.start()
    assert changes.run(rt) == {**NOTHING, "unavailable": [two.uri]}
    two.start()
    replicas.wait_converged(timeout=20)
    assert changes.run(rt) == {"changes": 1, "notified": 1}
    assert changes.run(rt) == NOTHING
    assert attributions(rt, sinks) == {"marie": 0, "paul": 1, "zoe": 1}
    assert [e["details"].get("members_added") for e in feed_of(rt)] == [
        [account(rt, "paul")],
        [account(rt, "zoe")],
    ]


def test_with_one_provider_a_replace_is_journaled_but_not_mailed(
    replicas: ReplicaSet, rt: Runtime, sinks: Any, tmp_path: Path
) -> None:
    """A feed that knows a single provider has no copy to tell who a replace added: it
    journals the new list and mails no one rather than every member."""
    one = replicas.instances[0]
    ldap = rt.settings.ldap.model_copy(update={"uris": [one.uri]})
    state = rt.settings.state.model_copy(update={"path": tmp_path / "alone.db"})
    alone = Runtime(rt.settings.model_copy(update={"ldap": ldap, "state": state}))
    try:
        assert "started_at" in changes.run(alone)
        replace_members(one, rt, "marie", "zoe")
        assert changes.run(alone) == {"changes": 1, "notified": 0}
        [entry] = feed_of(alone)
        assert entry["details"]["members_replaced"] == [account(rt, "marie"), account(rt, "zoe")]
        assert "members_added" not in entry["details"]
    finally:
        alone.close()


def test_the_first_provider_takes_over_the_single_cursor(
    replicas: ReplicaSet, rt: Runtime, sinks: Any
) -> None:
    """After an upgrade, the feed that read one log goes on from where it was in it."""
    one = replicas.instances[0]
    mine = changefeed.cursor_name(one.uri)
    set_cursor(rt.db, changefeed.JOB, get_cursor(rt.db, mine))  # as the single-log feed left it
    set_cursor(rt.db, mine, None)
    add_member(one, rt, "paul")
    replicas.wait_converged()
    assert changes.run(rt) == {"changes": 1, "notified": 1}
    assert get_cursor(rt.db, mine) is not None
    assert changes.run(rt) == NOTHING
    assert attributions(rt, sinks) == {"marie": 0, "paul": 1, "zoe": 0}
