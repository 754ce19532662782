"""The yearly access review (issue 21 item 10) against a real slapd and SMTP sink: who may
review, confirming and withdrawing (the LDAP entry and the holder's mail), the daemon's
opening and reminders (each once), the overdue report (`apexdir review overdue`) and the
automatic withdrawal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from apexdir.clock import system_clock
from apexdir.config import Settings
from apexdir.daemon.jobs import review as review_job
from apexdir.directory.repository import Repository
from apexdir.errors import Conflict, NotAllowed
from apexdir.rules import history as h
from apexdir.rules import review as r
from apexdir.runtime import Runtime
from apexdir.workflows import history, review
from apexdir.workflows.actors import AGENT, resolve_actor
from tests.conftest import admin as root_directory
from tests.helpers import (
    OTHER_SIRET,
    SIRET,
    Cli,
    make_catalogue,
    make_right,
    make_service,
    make_structure,
)

APP = "FICOBA"


@dataclass
class World:
    admin: str
    resp: str
    collab: str
    other_admin: str


@pytest.fixture
def world(app_cli: Cli) -> World:
    config = app_cli.config
    for siret, name in ((SIRET, "Banque Exemple"), (OTHER_SIRET, "La Poste Exemple")):
        make_structure(config, siret, name)
    make_service(config, SIRET, "Comptabilité")
    make_catalogue(config, APP, "Fichier des comptes bancaires", "CONSULTATION", "CONTROLE")
    admin = app_cli.create_account(
        SIRET, "administrateur", "alice.admin@example.org", "Alice", "Admin"
    )
    make_right(config, "grant", admin, APP, "CONSULTATION")
    make_right(config, "grant", admin, APP, "CONTROLE")
    resp = app_cli.create_account(
        SIRET,
        "responsable",
        "remi.resp@example.org",
        "Remi",
        "Resp",
        service="Comptabilité",
        as_=admin,
    )
    collab = app_cli.create_account(
        SIRET,
        "collaborateur",
        "colette.collab@example.org",
        "Colette",
        "Collab",
        service="Comptabilité",
        as_=admin,
    )
    make_right(config, "grant", resp, APP, "CONSULTATION", as_=admin)
    make_right(config, "grant", collab, APP, "CONSULTATION", as_=admin)
    make_right(config, "grant", collab, APP, "CONTROLE", as_=admin)
    other = app_cli.create_account(
        OTHER_SIRET, "administrateur", "oscar.other@example.org", "Oscar", "Other"
    )
    app_cli.deliver()
    return World(admin, resp, collab, other)


def at(settings: Settings, moment: datetime) -> Runtime:
    return Runtime(settings, clock=lambda: moment, operator="tester")


def reminders(app_cli: Cli, settings: Settings, moment: datetime) -> list[dict[str, Any]]:
    """The reminders the administrateur received: the spool delivered at `moment` (the
    job's clock: a mail queued in the future waits for it)."""
    from apexdir.daemon.jobs import outbox

    outbox.run_once(settings, lambda: moment)
    return [m for m in app_cli.mails(to="alice.admin@example.org") if m["subject"] == REMINDER]


def subjects(app_cli: Cli, to: str) -> list[str]:
    return [m["subject"] for m in app_cli.mails(to=to)]


REMINDER = "APEX Partenaires – Revue annuelle des habilitations de votre structure"


def test_only_the_structures_administrateur_reviews(rt: Runtime, world: World) -> None:
    """A responsable, a collaborateur: refused; another structure's administrateur reads no
    review of this one and cannot decide on it."""
    review.open_review(rt, AGENT, SIRET)
    for who in (world.resp, world.collab):
        actor = resolve_actor(rt, who)
        with pytest.raises(NotAllowed):
            review.sheet(rt, actor)
        with pytest.raises(NotAllowed):
            review.decide(rt, actor, {r.Pair(world.collab, f"{APP}/CONTROLE"): r.CONFIRMED})
    other = resolve_actor(rt, world.other_admin)
    assert review.sheet(rt, other) is None  # his own structure has none
    with pytest.raises(NotAllowed):
        review.sheet(rt, other, SIRET)
    with pytest.raises(NotAllowed):
        review.decide(rt, other, {r.Pair(world.collab, f"{APP}/CONTROLE"): r.WITHDRAWN}, SIRET)
    assert not review.is_open(rt, other) and review.is_open(rt, resolve_actor(rt, world.admin))


def test_confirm_withdraw_then_complete(
    rt: Runtime, world: World, app_cli: Cli, slapd: Any
) -> None:
    """The administrateur's own profiles are not reviewed; a withdrawal leaves the LDAP
    entry and mails its holder; the history shows both; all decided: completed."""
    review.open_review(rt, AGENT, SIRET)
    admin = resolve_actor(rt, world.admin)
    sheet = review.sheet(rt, admin)
    assert sheet is not None and sheet.pending == 3
    assert [row.account.identifier for row in sheet.rows] == sorted([world.collab, world.resp])
    out = review.decide(
        rt,
        admin,
        {
            r.Pair(world.collab, f"{APP}/CONSULTATION"): r.CONFIRMED,
            r.Pair(world.collab, f"{APP}/CONTROLE"): r.WITHDRAWN,
        },
    )
    assert (out.confirmed, out.withdrawn, out.remaining, out.completed) == (1, 1, 1, False)
    entry = Repository(rt.directory, rt.layout).account(world.collab)
    assert entry.habilitations == [f"{APP}/CONSULTATION"]
    with root_directory(slapd) as raw:
        found = raw.get(rt.layout.account_dn(world.collab), ["memberOf"])
        assert found is not None
        assert not any("CONTROLE" in str(v) for v in found.all("memberOf"))
    assert "APEX Partenaires – Retrait de profils applicatifs" in subjects(
        app_cli, "colette.collab@example.org"
    )
    with pytest.raises(Conflict):  # withdrawn meanwhile: no longer to review
        review.decide(rt, admin, {r.Pair(world.collab, f"{APP}/CONTROLE"): r.CONFIRMED})
    done = review.decide(rt, admin, {r.Pair(world.resp, f"{APP}/CONSULTATION"): r.CONFIRMED})
    assert done.completed and done.remaining == 0
    assert review.sheet(rt, admin) is None and not review.is_open(rt, admin)
    events, _ = history.events(rt, admin, history.Criteria())
    actions = [e.action for e in events]
    assert actions.count("review.confirm") == 2 and "review.complete" in actions
    assert "revoke" in actions and "review.open" in actions
    stored = review.store(rt).of_structure(SIRET)[-1]
    assert stored.status == r.COMPLETED and stored.closed_at is not None
    kinds = {(d.identifier, d.habilitation): (d.decision, d.by) for d in stored.decisions}
    assert kinds[(world.collab, f"{APP}/CONTROLE")] == (r.WITHDRAWN, world.admin)


def test_daemon_opens_when_due_and_reminds_once(
    settings: Settings, world: World, app_cli: Cli
) -> None:
    """A year after the structure's creation the job opens the review and mails the
    administrateur once; day 14 once more; a second pass sends nothing."""
    now = system_clock()
    assert review_job.run_once(settings, lambda: now + timedelta(days=30))["opened"] == 0
    year = now + timedelta(days=366)
    first = review_job.run_once(settings, lambda: year)
    # The other structure's review is completed at once: nothing held there to review.
    assert first["opened"] == 2 and first["reminded"] == 1
    assert review_job.run_once(settings, lambda: year + timedelta(hours=2))["reminded"] == 0
    mails = reminders(app_cli, settings, year + timedelta(hours=2))
    assert len(mails) == 1
    assert "est ouverte" in mails[0]["body"] and "3 habilitations" in mails[0]["body"]
    assert "/structure/revue" in mails[0]["body"]
    later = year + timedelta(days=14, hours=1)
    assert review_job.run_once(settings, lambda: later)["reminded"] == 1
    assert review_job.run_once(settings, lambda: later)["reminded"] == 0
    mails = reminders(app_cli, settings, later)
    assert len(mails) == 2 and "n'est pas terminée" in mails[1]["body"]
    assert REMINDER not in subjects(app_cli, "oscar.other@example.org")  # nothing to review


def test_overdue_is_reported_to_the_agents(settings: Settings, world: World, app_cli: Cli) -> None:
    """Thirty days on: overdue once (journal, agents' mailbox, `apexdir review overdue`);
    nothing withdrawn without review_auto_revoke; partners cannot list it."""
    past = system_clock() - timedelta(days=31)
    mailbox = settings.daemon.model_copy(update={"agents_mail": "agents@dgfip.example"})
    with_mailbox = settings.model_copy(update={"daemon": mailbox})
    review.open_review(at(settings, past), AGENT, SIRET, now=past)
    assert review_job.run_once(with_mailbox)["overdue"] == 1
    assert review_job.run_once(with_mailbox)["overdue"] == 0
    report = app_cli.ok("review", "overdue")
    assert [o["siret"] for o in report] == [SIRET] and report[0]["status"] == r.OVERDUE
    pending = {(p["identifier"], p["habilitation"]) for p in report[0]["pending"]}
    assert (world.collab, f"{APP}/CONTROLE") in pending and len(pending) == 3
    overdue_mails = subjects(app_cli, "agents@dgfip.example")
    assert overdue_mails == ["APEX Partenaires – Revue des habilitations non terminée"]
    app_cli.fails(4, "review", "overdue", as_=world.resp)
    assert app_cli.ok("review", "overdue", as_=world.other_admin) == []
    fresh = Runtime(settings)
    held = Repository(fresh.directory, fresh.layout).account(world.collab).habilitations
    fresh.close()
    assert len(held) == 2  # reported, not withdrawn


def test_auto_revoke_withdraws_what_is_unconfirmed(
    settings: Settings, world: World, app_cli: Cli
) -> None:
    """With review_auto_revoke, the overdue review's unconfirmed habilitations go (LDAP
    entry, holder mailed, « APEX Partenaires » in the history); the confirmed one stays."""
    past = system_clock() - timedelta(days=31)
    old = at(settings, past)
    review.open_review(old, AGENT, SIRET, now=past)
    review.decide(
        old,
        resolve_actor(old, world.admin),
        {r.Pair(world.collab, f"{APP}/CONSULTATION"): r.CONFIRMED},
    )
    policy = settings.policy.model_copy(update={"review_auto_revoke": True})
    counts = review_job.run_once(settings.model_copy(update={"policy": policy}))
    assert counts["closed"] == 1
    repo_rt = Runtime(settings)
    repo = Repository(repo_rt.directory, repo_rt.layout)
    assert repo.account(world.collab).habilitations == [f"{APP}/CONSULTATION"]
    assert repo.account(world.resp).habilitations == []
    assert "APEX Partenaires – Retrait de profils applicatifs" in subjects(
        app_cli, "remi.resp@example.org"
    )
    assert review.store(repo_rt).of_structure(SIRET)[-1].status == r.CLOSED
    events, _ = history.events(repo_rt, AGENT, history.Criteria(), siret=SIRET)
    auto = [e for e in events if e.action == "review.auto-revoke"]
    assert len(auto) == 2
    assert h.who(auto[0].action, auto[0].actor, auto[0].target, agent_names=False) == (
        "APEX Partenaires"
    )
    repo_rt.close()


def test_agent_opens_a_review_by_command(app_cli: Cli, world: World) -> None:
    """`apexdir review open SIRET` (agent); a second is refused while one is open;
    `review show` lists each habilitation with its decision."""
    assert app_cli.ok("daemon", "run-once", "review")["opened"] == 0  # created today
    opened = app_cli.ok("review", "open", SIRET)
    assert opened["status"] == r.OPEN and opened["siret"] == SIRET
    app_cli.fails(1, "review", "open", SIRET)
    app_cli.fails(4, "review", "open", SIRET, as_=world.admin)
    shown = app_cli.ok("review", "show", as_=world.admin)
    assert shown["open"] and shown["pending"] == 3
    assert {a["identifier"] for a in shown["accounts"]} == {world.resp, world.collab}


def test_a_closed_structures_review_waits(settings: Settings, world: World, app_cli: Cli) -> None:
    """No reminder, report nor withdrawal while the structure is closed; at its reopening
    the overdue review is reported."""
    past = system_clock() - timedelta(days=31)
    review.open_review(at(settings, past), AGENT, SIRET, now=past)
    app_cli.ok("structure", "close", SIRET, "--reason", "Cessation d'activité")
    assert review_job.run_once(settings)["overdue"] == 0
    app_cli.ok("structure", "reopen", SIRET)
    assert review_job.run_once(settings)["overdue"] == 1


def test_old_reviews_are_purged_but_the_latest_stays(settings: Settings, world: World) -> None:
    """Reviews finished more than journal_retention_days ago go, except each structure's
    latest (the next is due from it)."""
    now = system_clock()
    for days in (900, 800):  # finished the day they opened: nothing was held there
        moment = now - timedelta(days=days)
        opened = review.open_review(at(settings, moment), AGENT, OTHER_SIRET, now=moment)
        assert opened.status == r.COMPLETED
    rare = settings.policy.model_copy(update={"review_interval_days": 5000})  # none due
    counts = review_job.run_once(settings.model_copy(update={"policy": rare}))
    assert counts["purged"] == 1 and counts["opened"] == 0
    fresh = Runtime(settings)
    left = review.store(fresh).of_structure(OTHER_SIRET)
    assert [x.opened_at.date() for x in left] == [(now - timedelta(days=800)).date()]
    fresh.close()
