"""The directory jobs against the real slapd and sinks, with an injected clock."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap3
import pytest

from apexdir.clock import FrozenClock, from_generalized_time
from apexdir.config import Settings, StateSettings
from apexdir.daemon.jobs import changes, expiry, housekeeping, pending
from apexdir.daemon.jobs.outbox import deliver
from apexdir.dev.captured import captured_mails
from apexdir.directory.repository import Repository
from apexdir.directory.server import SlapdInstance
from apexdir.mail.render import PARIS as ZONE
from apexdir.runtime import Runtime
from apexdir.state.jobs import get_cursor, set_cursor
from apexdir.state.journal import Journal
from apexdir.state.outbox import Outbox
from apexdir.workflows import changefeed, precreation
from apexdir.workflows.actors import AGENT, actor_for
from tests.conftest import admin
from tests.helpers import PASSWORD, SIRET, Cli

WARNING = "APEX Partenaires – Expiration prochaine de votre mot de passe"
EXPIRED = "APEX Partenaires – Expiration de votre mot de passe"
REMINDER = "APEX Partenaires – Rappel : finalisation de la création de votre compte personnel"
SUBMITTED = "APEX Partenaires – Demande de création de compte à valider"
INVITATION_EXPIRED = "APEX Partenaires – Expiration d'une demande de création de compte"
VALIDATORS = "APEX Partenaires – Demandes de création de compte en attente de validation"
ATTRIBUTION = "APEX Partenaires – Attribution de profils applicatifs"
PERSONAL = "APEX Partenaires - Confirmation modification de vos données personnelles"


def sent(rt: Runtime, sinks: Any, to: str, subject: str | None = None) -> list[dict[str, Any]]:
    """Deliver the spool at the runtime's (frozen) time, then read the sink."""
    asyncio.run(deliver(rt.settings, rt.db, rt.clock, worker="test"))
    mails = captured_mails(sinks.directory, to=to)
    return [m for m in mails if subject is None or m["subject"] == subject]


def frozen(settings: Settings, now: datetime, **daemon: Any) -> Runtime:
    if daemon:
        settings = settings.model_copy(update={"daemon": settings.daemon.model_copy(update=daemon)})
    return Runtime(settings, clock=FrozenClock(now), operator="daemon-test")


def structure(app_cli: Cli) -> None:
    app_cli.create_structure(SIRET, "Banque Exemple", "Compta")


# ---------------------------------------------------------------------- expiry
@pytest.fixture
def policy(slapd: SlapdInstance, settings: Settings) -> Iterator[Any]:
    """Set pwdMaxAge of the directory's policy; restored afterwards."""
    dn = slapd.layout.default_policy_dn

    def set_max_age(seconds: int) -> None:
        with admin(slapd) as directory:
            directory.replace(dn, pwdMaxAge=str(seconds))

    yield set_max_age
    set_max_age(settings.policy.password_max_age_days * 86400)


def changed_at(slapd: SlapdInstance, identifier: str) -> datetime:
    with admin(slapd) as directory:
        entry = directory.get(slapd.layout.account_dn(identifier), ["pwdChangedTime"])
    assert entry is not None
    return from_generalized_time(str(entry.get("pwdChangedTime")))


def test_expiry_warns_at_each_level_once_then_tells_expiry(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance, sinks: Any
) -> None:
    """15/7/1-day warnings each sent once, only the most urgent one, then the expiry mail."""
    structure(app_cli)
    marie = app_cli.create_account(SIRET, "administrateur", "marie@example.org", "Marie", "Martin")
    changed = changed_at(slapd, marie)
    rt = frozen(settings, changed + timedelta(days=90 - 10))
    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    assert expiry.run(rt) == {"warned": 1, "expired": 0, "already_sent": 0, "max_age_days": 90}
    # The next pass reads only what crossed a threshold since: nothing. Read again, the
    # account already has its notice.
    assert expiry.run(rt) == {"warned": 0, "expired": 0, "already_sent": 0, "max_age_days": 90}
    assert expiry.run(rt, full=True)["already_sent"] == 1
    clock.advance(days=4)  # 6 days left: the 7-day warning
    assert expiry.run(rt)["warned"] == 1
    clock.advance(days=5, hours=12)  # half a day left
    assert expiry.run(rt)["warned"] == 1
    assert expiry.run(rt)["warned"] == 0
    clock.advance(days=1)
    assert expiry.run(rt)["expired"] == 1
    assert expiry.run(rt, full=True) == {
        "warned": 0, "expired": 0, "already_sent": 1, "max_age_days": 90
    }  # fmt: skip
    warnings = sent(rt, sinks, "marie@example.org", WARNING)
    days = [re.search(r"expirera dans (\d+) jours?", m["body"]).group(1) for m in warnings]  # type: ignore[union-attr]
    assert days == ["10", "6", "1"]
    assert f"({marie})" in warnings[0]["body"]
    expires = (changed + timedelta(days=90)).astimezone(ZONE).strftime("%d/%m/%Y")
    assert f"le {expires}" in warnings[0]["body"]
    [gone] = sent(rt, sinks, "marie@example.org", EXPIRED)
    assert "Mot de passe oublié" in gone["body"]
    actions = [e["action"] for e in rt.journal.entries() if e["target"] == marie]
    assert actions.count("password.expiry-warning") == 3
    assert actions.count("password.expired") == 1
    rt.close()


def test_expiry_on_a_node_taking_over_sends_nothing_twice(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance, sinks: Any, tmp_path: Path
) -> None:
    """The cursor is node-local: a node with its own state store (no cursor yet) reads the
    whole window after the lease moved, finds the notice already marked, and a later
    crossing is sent once, by whichever node runs the pass."""
    structure(app_cli)
    marie = app_cli.create_account(SIRET, "administrateur", "marie@example.org", "Marie", "Martin")
    when = changed_at(slapd, marie) + timedelta(days=90 - 10)
    first = frozen(settings, when)
    assert expiry.run(first)["warned"] == 1
    other = settings.model_copy(update={"state": StateSettings(path=tmp_path / "node2.db")})
    second = frozen(other, when + timedelta(hours=1))
    assert expiry.run(second) == {
        "warned": 0, "expired": 0, "already_sent": 1, "max_age_days": 90
    }  # fmt: skip
    second.clock.advance(days=4)  # type: ignore[attr-defined]
    assert expiry.run(second)["warned"] == 1  # the 7-day crossing, read incrementally
    first.clock.advance(days=4, hours=2)  # type: ignore[attr-defined]
    assert expiry.run(first)["already_sent"] == 1  # the lease came back: marked already
    assert len(sent(first, sinks, "marie@example.org", WARNING)) == 1
    assert len(sent(second, sinks, "marie@example.org", WARNING)) == 2
    first.close()
    second.close()


def test_expiry_reads_a_policy_of_seconds_from_the_directory(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance, sinks: Any, policy: Any
) -> None:
    """pwdMaxAge of one hour in slapd overrides the configured 90 days."""
    structure(app_cli)
    marie = app_cli.create_account(SIRET, "administrateur", "marie@example.org", "Marie", "Martin")
    policy(3600)
    changed = changed_at(slapd, marie)
    rt = frozen(settings, changed + timedelta(minutes=30))
    assert expiry.run(rt)["warned"] == 1
    rt.clock.advance(minutes=31)  # type: ignore[attr-defined]
    assert expiry.run(rt)["expired"] == 1
    [warning] = sent(rt, sinks, "marie@example.org", WARNING)
    assert "expirera dans 1 jour," in warning["body"]
    assert len(sent(rt, sinks, "marie@example.org", EXPIRED)) == 1
    # An account whose password expired long ago (beyond the look-back) is not mailed.
    rt.clock.advance(days=30)  # type: ignore[attr-defined]
    assert expiry.run(rt) == {"warned": 0, "expired": 0, "already_sent": 0,
                              "max_age_days": round(1 / 24, 3)}  # fmt: skip
    rt.close()


# ---------------------------------------------------------------------- pending
def link_in(mail: dict[str, Any]) -> str:
    found = re.search(r"URL : (\S+)", mail["body"])
    assert found, mail["body"]
    return found.group(1)


def test_pending_reminds_expires_remind_validators_and_purges(
    app_cli: Cli, settings: Settings, sinks: Any
) -> None:
    """Validators mailed at the submission; the reminder with the first mail's link (still
    valid), expiry told to the creator, validator reminders by structure and to the
    agents' mailbox, purge after 30 days."""
    structure(app_cli)
    marie = app_cli.create_account(SIRET, "administrateur", "marie@example.org", "Marie", "Martin")
    app_cli.deliver()  # her validation mail, queued at the real time, must not wait behind
    start = (datetime.now(UTC) - timedelta(days=60)).replace(microsecond=0)  # past: sent at once
    rt = frozen(settings, start, agents_mail="agents@dgfip.example")
    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    admin_actor = actor_for(Repository(rt.directory, rt.layout).account(marie))
    invite = precreation.invite
    paul = invite(rt, admin_actor, siret=SIRET, account_type="collaborateur",
                  mail="paul@example.org", service="Compta").id  # fmt: skip
    zoe = invite(rt, admin_actor, siret=SIRET, account_type="collaborateur",
                 mail="zoe@example.org", service="Compta").id  # fmt: skip
    luc = invite(rt, AGENT, siret=SIRET, account_type="administrateur",
                 mail="luc@example.org").id  # fmt: skip
    eve = invite(rt, AGENT, siret=SIRET, account_type="administrateur",
                 mail="eve@example.org").id  # fmt: skip
    first_link = link_in(sent(rt, sinks, "paul@example.org")[0])
    eve_link = link_in(sent(rt, sinks, "eve@example.org")[0])
    form = {"last_name": "Durand", "first_name": "Eve", "mobile": None, "password": PASSWORD,
            "confirmation": PASSWORD, "submit": True}  # fmt: skip
    precreation.complete(rt, eve_link, **form)
    # At once, not after 3 days (issue 19 item 11): an administrator's validators are agents.
    [to_validate] = sent(rt, sinks, "agents@dgfip.example", SUBMITTED)
    assert "Eve Durand (eve@example.org)" in to_validate["body"]
    assert "accepter ou refuser cette demande" in to_validate["body"]

    clock.advance(days=2)
    assert pending.run(rt) == {"expired": 0, "reminded": 0, "validators_reminded": 0, "purged": 0}
    clock.advance(days=1, minutes=1)
    result = pending.run(rt)  # paul, zoe, luc reminded; eve has completed, waits 3 days
    assert result == {"expired": 0, "reminded": 3, "validators_reminded": 1, "purged": 0}
    assert pending.run(rt)["reminded"] == 0, "once"
    [reminder] = sent(rt, sinks, "paul@example.org", REMINDER)
    assert link_in(reminder) == first_link  # the first mail's link is not voided
    expires = (start + timedelta(days=7)).astimezone(ZONE).strftime("%d/%m/%Y")
    assert f"avant le {expires}" in reminder["body"]
    precreation.complete(rt, first_link, **{**form, "first_name": "Paul"})
    [to_marie] = sent(rt, sinks, "marie@example.org", SUBMITTED)  # paul's administrator
    assert "Paul Durand (paul@example.org)" in to_marie["body"]
    with pytest.raises(Exception, match="pas valide"):  # still single use
        precreation.complete(rt, first_link, **{**form, "first_name": "Paul"})
    assert Repository(rt.directory, rt.layout).request(paul).expires_at == start + timedelta(
        days=7
    ), "same expiry"

    clock.advance(days=4)  # 7 days and 1 minute after the invitations
    result = pending.run(rt)
    assert result["expired"] == 2  # zoe (by marie), luc (by an agent)
    assert result["validators_reminded"] == 2  # paul (4 days), eve (7 days)
    [told] = sent(rt, sinks, "marie@example.org", INVITATION_EXPIRED)
    assert "zoe@example.org" in told["body"]
    [to_marie] = sent(rt, sinks, "marie@example.org", VALIDATORS)
    assert "- paul@example.org" in to_marie["body"] and "eve@" not in to_marie["body"]
    to_agents = sent(rt, sinks, "agents@dgfip.example", VALIDATORS)
    assert len(to_agents) == 2 and "- eve@example.org" in to_agents[-1]["body"]
    assert sent(rt, sinks, "luc@example.org", INVITATION_EXPIRED) == []
    repo = Repository(rt.directory, rt.layout)
    assert repo.request(luc).status == "expired" and repo.request(luc).token_hash is None
    journal = {(e["action"], e["target"]): e for e in rt.journal.entries()}
    assert journal[("request.expire", luc)]["details"]["creator_notified"] is False
    assert journal[("request.expire", zoe)]["details"]["creator_notified"] is True
    assert pending.run(rt) == {"expired": 0, "reminded": 0, "validators_reminded": 0, "purged": 0}

    clock.advance(days=3)  # another reminder period: the validators are reminded again
    assert pending.run(rt)["validators_reminded"] == 2
    precreation.refuse(rt, AGENT, eve, "Structure inconnue")
    clock.advance(days=30, minutes=1)
    result = pending.run(rt)
    assert result["purged"] == 3  # zoe, luc (expired), eve (refused)
    left = Repository(rt.directory, rt.layout).requests()
    assert {r.id for r in left if r.status != "accepted"} == {paul}
    rt.close()


# ---------------------------------------------------------------------- changes
def test_changes_made_by_any_ldap_client_are_journaled_and_notified_once(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance, rt: Runtime, sinks: Any
) -> None:
    """Raw ldap3 writes by an admin mail the partner; apexdir's own writes are not re-sent."""
    structure(app_cli)
    app_cli.ok("app", "add", "APP1", "--name", "Déclaration en ligne")
    app_cli.ok("app", "profile-add", "APP1", "LECTEUR")
    app_cli.ok("app", "profile-add", "APP1", "REDACTEUR")
    marie = app_cli.create_account(SIRET, "administrateur", "marie@example.org", "Marie", "Martin")
    assert "started_at" in changes.run(rt), "the first pass starts at the end of the log"
    assert changes.run(rt) == {"changes": 0, "notified": 0}, "nothing from before"

    marie_dn = slapd.layout.account_dn(marie)
    conn = ldap3.Connection(slapd.uri, slapd.layout.admin_dn, slapd.admin_password(),
                            auto_bind=True, raise_exceptions=True)  # fmt: skip
    conn.modify(slapd.layout.profile_dn("APP1", "LECTEUR"),
                {"member": [(ldap3.MODIFY_ADD, [marie_dn])]})  # fmt: skip
    app_cli.ok("grant", marie, "APP1", "REDACTEUR")  # apexdir mails this one itself
    conn.modify(marie_dn, {"mail": [(ldap3.MODIFY_REPLACE, ["marie.martin@example.org"])]})
    conn.unbind()
    app_cli.ok("me", "update", marie, "--last-name", "Martin-Durand", as_=marie)

    before = get_cursor(rt.db, changefeed.cursor_name(slapd.uri))
    result = changes.run(rt)
    assert result == {"changes": 4, "notified": 3}
    assert changes.run(rt) == {"changes": 0, "notified": 0}, "each change once"
    # As if the pass had died before saving its cursor.
    set_cursor(rt.db, changefeed.cursor_name(slapd.uri), before)
    assert changes.run(rt) == {"changes": 0, "notified": 0}, "re-read, not re-notified"
    attributions = sent(rt, sinks, "marie.martin@example.org", ATTRIBUTION) + sent(
        rt, sinks, "marie@example.org", ATTRIBUTION
    )
    assert len(attributions) == 2  # the raw one (feed) and apexdir's grant: no duplicate
    assert all("Déclaration en ligne" in m["body"] for m in attributions)
    personal_old = sent(rt, sinks, "marie@example.org", PERSONAL)
    personal_new = sent(rt, sinks, "marie.martin@example.org", PERSONAL)
    assert len(personal_old) == 1, "the direct mail change, to the old address"
    assert len(personal_new) == 2, "the direct change, then apexdir's own `me update` (once)"
    assert f"({marie})" in personal_old[0]["body"]

    feed = [e for e in rt.journal.entries() if e["action"].startswith("ldap.")]
    by_admin = [e for e in feed if e["operator"] == f"ldap:{slapd.layout.admin_dn}"]
    assert [(e["action"], e["details"]["attributes"]) for e in by_admin] == [
        ("ldap.modify", ["member"]),
        ("ldap.modify", ["mail"]),
    ]
    assert by_admin[0]["details"]["members_added"] == [marie_dn]
    assert by_admin[0]["details"]["notified"] == ["attribution"]
    own = [e for e in feed if e["details"]["apexdir"]]
    assert len(own) == 2 and all("notified" not in e["details"] for e in own)
    assert all("marie.martin@" not in str(e["details"]) for e in feed), "no values journaled"


# ---------------------------------------------------------------------- housekeeping
def test_housekeeping_purges_expired_secrets_stale_notices_and_old_rows(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance, sinks: Any
) -> None:
    """An expired login code and a former password's notice go; the journal and spool trim."""
    structure(app_cli)
    marie = app_cli.create_account(SIRET, "administrateur", "marie@example.org", "Marie", "Martin")
    app_cli.ok("login", marie, input=f"{PASSWORD}\n")
    dn = slapd.layout.account_dn(marie)
    now = datetime.now(UTC)
    rt = frozen(settings, now)
    changed = rt.directory.get(dn, ["pwdChangedTime"]).get("pwdChangedTime")  # type: ignore[union-attr]
    current = f"expiry-15:{changed}"
    rt.directory.modify(dn, {"apexNotice": [("add", ["expiry-7:20200101000000Z", current])]})
    long_ago = FrozenClock(now - timedelta(days=settings.policy.journal_retention_days + 1))
    Journal(rt.db, long_ago).record("old.action", None, actor=None)
    old = Outbox(rt.db, long_ago)
    old.mark_sent(old.enqueue_mail(["x@example.org"], "s", "t", None))

    result = housekeeping.run(rt)
    assert result.pop("pages_freed") >= 0  # the state store's incremental vacuum
    assert result == {"secrets_removed": 0, "notices_removed": 1, "journal_trimmed": 1,
                      "outbox_purged": 1, "oidc_codes_purged": 0,
                      "oidc_tokens_purged": 0, "events_purged": 0}  # fmt: skip
    entry = rt.directory.get(dn, ["apexLoginCode", "apexNotice"])
    assert entry is not None and entry.get("apexLoginCode"), "a valid code stays"
    assert entry.all("apexNotice") == [current]
    rt.clock.advance(minutes=settings.policy.login_code_minutes + 1)  # type: ignore[attr-defined]
    assert housekeeping.run(rt)["secrets_removed"] == 1
    assert rt.directory.get(dn, ["apexLoginCode"]).get("apexLoginCode") is None  # type: ignore[union-attr]
    rt.close()


def test_run_once_from_the_cli(app_cli: Cli) -> None:
    """`apexdir daemon run-once JOB` runs each directory job once and prints its counts."""
    assert app_cli.ok("daemon", "run-once", "expiry")["warned"] == 0
    # The tests' `Cli.deliver` calls the outbox job in the library: its command is run here.
    assert app_cli.ok("daemon", "run-once", "outbox") == {
        "sent": 0, "retried": 0, "failed": 0, "remaining": 0,
    }  # fmt: skip
    assert app_cli.ok("daemon", "run-once", "pending") == {
        "expired": 0, "reminded": 0, "validators_reminded": 0, "purged": 0,
    }  # fmt: skip
    assert "started_at" in app_cli.ok("daemon", "run-once", "changes")
    assert app_cli.ok("daemon", "run-once", "changes") == {"changes": 0, "notified": 0}
    assert app_cli.ok("daemon", "run-once", "housekeeping")["secrets_removed"] == 0
