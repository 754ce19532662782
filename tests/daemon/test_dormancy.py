"""Dormant accounts (issue 21 item 7) against the real slapd and SMTP sink: the warning sent
once, the suspension at the deadline checked by a raw bind, a login that cancels it, the
administrateur's reactivation. The daemon's clock is moved; slapd's own times are real."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apexdir.clock import FrozenClock
from apexdir.config import Settings, StateSettings
from apexdir.daemon import app
from apexdir.daemon.jobs import dormancy
from apexdir.daemon.jobs.outbox import deliver
from apexdir.dev.captured import captured_mails
from apexdir.directory.repository import Repository
from apexdir.directory.server import SlapdInstance
from apexdir.mail.render import PARIS
from apexdir.rules.history import who
from apexdir.runtime import Runtime
from apexdir.workflows import suspension
from apexdir.workflows.actors import actor_for
from tests.cli import flows
from tests.cli.flows import SERVICE
from tests.conftest import admin
from tests.helpers import SIRET, Cli

WARNING = "APEX Partenaires – Suspension prochaine de votre compte pour inactivité"
SUSPENDED = "APEX Partenaires – Suspension de votre compte APEX Partenaires pour inactivité"
REACTIVATED = "APEX Partenaires – Réactivation de votre compte APEX Partenaires"
NOTHING = {"warned": 0, "suspended": 0, "cancelled": 0, "already_done": 0,
           "kept_last_administrator": 0, "dormant_days": 365}  # fmt: skip


def at(settings: Settings, now: datetime) -> Runtime:
    return Runtime(settings, clock=FrozenClock(now), operator="daemon-test")


def mails(rt: Runtime, sinks: Any, to: str, subject: str) -> list[dict[str, Any]]:
    """Deliver the spool at the runtime's time, then read the sink."""
    asyncio.run(deliver(rt.settings, rt.db, rt.clock, worker="test"))
    return [m for m in captured_mails(sinks.directory, to=to) if m["subject"] == subject]


def mark(slapd: SlapdInstance, identifier: str) -> str | None:
    with admin(slapd) as directory:
        entry = directory.get(slapd.layout.account_dn(identifier), ["apexDormancy"])
    assert entry is not None
    value = entry.get("apexDormancy")
    return str(value) if value else None


def test_warned_once_suspended_at_the_deadline_unless_logged_in_then_reactivated(
    app_cli: Cli, settings: Settings, slapd: SlapdInstance, sinks: Any, tmp_path: Path
) -> None:
    """340 days after creation: one warning each (a second pass, a second node: nothing);
    30 days later Paul is suspended (raw bind refused), Léa who logged in since is not, the
    last administrateur is kept; the administrateur's reactivation lets Paul bind again."""
    flows.structure(app_cli, SIRET, "Banque Exemple", SERVICE)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    paul, lea = (
        flows.account(app_cli, SIRET, "collaborateur", f"{first.lower()}@example.org", first,
                      "Dupont", service=SERVICE, inviter=adm, validator=adm)
        for first in ("Paul", "Lea")
    )  # fmt: skip
    created = datetime.now(UTC)
    first = at(settings, created + timedelta(days=340))
    assert dormancy.run(first) == {**NOTHING, "warned": 3}
    assert dormancy.run(first) == NOTHING  # waiting for the deadline: nothing owed
    other = settings.model_copy(update={"state": StateSettings(path=tmp_path / "node2.db")})
    second = at(other, created + timedelta(days=341))
    assert dormancy.run(second) == NOTHING  # the marks are in the directory, not the node
    [warning] = mails(first, sinks, "paul@example.org", WARNING)
    deadline = (created + timedelta(days=370)).astimezone(PARIS).strftime("%d/%m/%Y")
    assert f"({paul})" in warning["body"] and f"connectez-vous à votre espace Apex Partenaires " \
        f"avant le {deadline}" in " ".join(warning["body"].split())  # fmt: skip
    assert "n'a jamais été utilisé" in warning["body"]  # never logged in: since creation
    assert mails(second, sinks, "paul@example.org", WARNING) == [warning]
    assert str(mark(slapd, paul)).startswith("warned:")

    time.sleep(1.1)  # slapd's times have a one-second resolution: a login after creation
    assert flows.bind(slapd, lea)  # Léa logs in (lastbind's authTimestamp moves)
    late = at(settings, created + timedelta(days=371))
    assert dormancy.run(late) == {**NOTHING, "suspended": 1, "cancelled": 1,
                                  "kept_last_administrator": 1}  # fmt: skip
    assert not flows.bind(slapd, paul)  # slapd refuses every bind: applications' too
    assert flows.bind(slapd, lea) and mark(slapd, lea) is None
    assert flows.bind(slapd, adm)  # the structure keeps its administrateur
    assert dormancy.run(late)["suspended"] == 0
    [notice] = mails(late, sinks, "paul@example.org", SUSPENDED)
    assert "suspendu pour inactivité" in notice["body"]
    assert str(mark(slapd, paul)).startswith("suspended:")
    shown = app_cli.ok("account", "show", paul)
    assert shown["status"] == "suspended" and shown["suspension_reason"] == "inactivité"

    # « Historique » (read from the directory): the warning and the suspension, by APEX.
    rows = [r for r in app_cli.ok("journal", as_=adm) if r["target"] == paul]
    labels = [r["label"] for r in rows]
    assert labels[:2] == ["Compte suspendu pour inactivité",
                          "Avertissement avant suspension pour inactivité"]  # fmt: skip
    assert rows[0]["details"]["reason"] == "inactivité"
    assert who(rows[0]["action"], None, paul, agent_names=False) == "APEX Partenaires"

    # The administrateur reactivates him as any suspension: the delay starts again.
    administrateur = actor_for(Repository(late.directory, late.layout).account(adm))
    suspension.reactivate(late, administrateur, paul)
    assert flows.bind(slapd, paul)
    assert mails(late, sinks, "paul@example.org", REACTIVATED)
    assert str(mark(slapd, paul)).startswith("reactivated:")
    assert dormancy.run(late)["suspended"] == 0
    for rt in (first, second, late):
        rt.close()


def test_zero_days_disables_and_the_job_runs_under_the_lease(
    settings: Settings, app_cli: Cli
) -> None:
    """`dormant_days = 0` never warns; the scheduler runs the job only with the lease;
    `apexdir daemon run-once dormancy` runs one pass."""
    assert app_cli.ok("daemon", "run-once", "dormancy") == NOTHING
    off = settings.model_copy(
        update={"policy": settings.policy.model_copy(update={"dormant_days": 0})}
    )
    rt = at(off, datetime.now(UTC) + timedelta(days=3650))
    assert dormancy.run(rt) == {**NOTHING, "dormant_days": 0}
    rt.close()
    jobs = {job.id: job for job in app.Daemon(settings)._scheduler().get_jobs()}
    assert "dormancy" in jobs and "dormancy" in app.DIRECTORY_JOBS
    assert "15 6" in str(jobs["dormancy"].trigger) or "hour='6'" in str(jobs["dormancy"].trigger)
