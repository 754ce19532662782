"""The permission table through the CLI: every actor type against every command of CLI.md.

The actors: a DGFiP agent (no --as); the administrator of structure A; the administrator of
another structure (B); the responsable of service 1 of A (delegated Lecture); the responsable
of another service (2) of A; a collaborateur of service 1. Each command is tried by each actor
on targets in A / service 1: exit 0 where SPEC §5–§7 allow it, 4 otherwise — and a refusal
changes nothing in the directory. A success is undone (as the agent) before the next actor.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from apexdir.directory.connection import Directory
from apexdir.directory.server import SlapdInstance
from tests.cli import flows
from tests.cli.flows import APP, EXTRA, READ, SERVICE, SERVICE2, World
from tests.helpers import PASSWORD, SIRET, Cli
from tests.writes import log_reader, mark, shown, written_since

ACTORS = ("agent", "adm_a", "adm_b", "resp1", "resp2", "collab1")
NEW_SIRET = "55208131766522"

Argv = Callable[[World], list[str]]
Seen = tuple[str, str, int, int]  # the row, the actor, the exit code expected, the one got


@dataclass
class Row:
    label: str
    argv: Argv
    allowed: frozenset[str]
    setup: list[Argv] = field(default_factory=list)  # run as the agent before each try
    undo: list[Argv] = field(default_factory=list)  # run as the agent after each try
    fresh: str | None = None  # a target account re-created when a try consumed it
    stdin: str | None = None


def row(label: str, argv: Argv, *allowed: str, **kwargs: object) -> Row:
    return Row(label, argv, frozenset(allowed), **kwargs)  # type: ignore[arg-type]


EVERYONE = ACTORS
STRUCTURE_A = ("agent", "adm_a", "resp1", "resp2", "collab1")
SERVICE_ADMINS = ("agent", "adm_a")
INVITERS_S1 = ("agent", "adm_a", "resp1")
_n = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_n)}"


def temp_service(w: World) -> list[str]:
    return ["service", "create", SIRET, "Temp"]


def drop_temp(w: World) -> list[str]:
    return ["service", "delete", SIRET, "Temp"]


CATALOGUE_AND_STRUCTURES = [
    row("app add", lambda w: ["app", "add", unique("APP"), "--name", "X"], "agent"),
    row("app profile-add", lambda w: ["app", "profile-add", APP, unique("P")], "agent"),
    row("app update", lambda w: ["app", "update", APP, "--url", "https://app.example/"], "agent"),
    row("app list", lambda w: ["app", "list"], *EVERYONE),
    # Structures
    row(
        "structure create",
        lambda w: [
            "structure",
            "create",
            "--siret",
            NEW_SIRET,
            "--category",
            "Banques",
            "--name",
            "Nouvelle",
        ],
        "agent",
    ),
    row("structure update", lambda w: ["structure", "update", SIRET, "--city", "Lyon"], "agent"),
    row("structure list", lambda w: ["structure", "list"], *EVERYONE),
    row("structure show", lambda w: ["structure", "show", SIRET], *STRUCTURE_A),
]
SERVICES = [
    row(
        "service create",
        lambda w: ["service", "create", SIRET, "Temp"],
        *SERVICE_ADMINS,
        undo=[drop_temp],
    ),
    row(
        "service rename",
        lambda w: ["service", "rename", SIRET, "Temp", "Temp2"],
        *SERVICE_ADMINS,
        setup=[temp_service],
        undo=[drop_temp, lambda w: ["service", "delete", SIRET, "Temp2"]],
    ),
    row(
        "service merge",
        lambda w: ["service", "merge", SIRET, "Temp", SERVICE2],
        *SERVICE_ADMINS,
        setup=[temp_service],
        undo=[drop_temp],
    ),
    row(
        "service delete",
        lambda w: ["service", "delete", SIRET, "Temp"],
        *SERVICE_ADMINS,
        setup=[temp_service],
        undo=[drop_temp],
    ),
    row("service list", lambda w: ["service", "list", SIRET], *STRUCTURE_A),
    row(
        "account transfer",
        lambda w: ["account", "transfer", w.collab1, "--service", SERVICE2],
        *SERVICE_ADMINS,
        undo=[lambda w: ["account", "transfer", w.collab1, "--service", SERVICE]],
    ),
]
CREATION = [
    row(
        "invite collaborateur",
        lambda w: [
            "account",
            "invite",
            "--structure",
            SIRET,
            "--type",
            "collaborateur",
            "--service",
            SERVICE,
            "--mail",
            unique("i") + "@example.org",
        ],
        *INVITERS_S1,
    ),
    row(
        "invite responsable",
        lambda w: [
            "account",
            "invite",
            "--structure",
            SIRET,
            "--type",
            "responsable",
            "--service",
            SERVICE,
            "--mail",
            unique("r") + "@example.org",
        ],
        *SERVICE_ADMINS,
    ),
    row(
        "invite administrateur",
        lambda w: [
            "account",
            "invite",
            "--structure",
            SIRET,
            "--type",
            "administrateur",
            "--mail",
            unique("a") + "@example.org",
        ],
        "agent",
    ),
    row(
        "pending of A",
        lambda w: ["account", "pending", "--structure", SIRET],
        "agent",
        "adm_a",
        "resp1",
        "resp2",
    ),
    row("pending", lambda w: ["account", "pending"], "agent", "adm_a", "adm_b", "resp1", "resp2"),
    row(
        "validate collaborateur",
        lambda w: ["account", "validate", w.extra["request"]],
        *SERVICE_ADMINS,
        setup=[lambda w: ["submitted", "collaborateur"]],
    ),
    row(
        "validate administrateur",
        lambda w: ["account", "validate", w.extra["request"]],
        "agent",
        setup=[lambda w: ["submitted", "administrateur"]],
    ),
    row(
        "refuse",
        lambda w: ["account", "refuse", w.extra["request"], "--reason", "Non"],
        *SERVICE_ADMINS,
        setup=[lambda w: ["invited", "collaborateur"]],
    ),
    # The invitee's form: the link is the credential, whoever runs the command.
    row(
        "complete",
        lambda w: [
            "account",
            "complete",
            w.extra["link"],
            "--last-name",
            "Roux",
            "--first-name",
            "Léa",
            "--yes",
        ],
        *EVERYONE,
        setup=[lambda w: ["invited", "collaborateur"]],
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    ),
]
ACCOUNTS = [
    row("account show", lambda w: ["account", "show", w.collab1], *STRUCTURE_A),
    row("account list of A", lambda w: ["account", "list", "--structure", SIRET], *STRUCTURE_A),
    row("account list", lambda w: ["account", "list"], *EVERYONE),
    row("resend-identifier", lambda w: ["account", "resend-identifier", w.collab1], *INVITERS_S1),
    row(
        "delete collaborateur",
        lambda w: ["account", "delete", w.extra["fresh"]],
        *INVITERS_S1,
        fresh="collaborateur",
    ),
    row(
        "delete responsable",
        lambda w: ["account", "delete", w.extra["fresh"]],
        *SERVICE_ADMINS,
        fresh="responsable",
    ),
    row(
        "delete administrateur",
        lambda w: ["account", "delete", w.extra["fresh"]],
        "agent",
        fresh="administrateur",
    ),
]
RIGHTS = [
    row(
        "grant collaborateur",
        lambda w: ["grant", w.collab1, APP, READ],
        *INVITERS_S1,
        undo=[lambda w: ["revoke", w.collab1, APP, READ]],
    ),
    row(
        "grant responsable",
        lambda w: ["grant", w.resp2, APP, READ],
        *SERVICE_ADMINS,
        undo=[lambda w: ["revoke", w.resp2, APP, READ]],
    ),
    row(
        "grant administrateur",
        lambda w: ["grant", w.adm_a, APP, EXTRA],
        "agent",
        undo=[lambda w: ["revoke", w.adm_a, APP, EXTRA]],
    ),
    row(
        "revoke collaborateur",
        lambda w: ["revoke", w.collab1, APP, READ],
        *INVITERS_S1,
        setup=[lambda w: ["grant", w.collab1, APP, READ]],
        undo=[lambda w: ["revoke", w.collab1, APP, READ]],
    ),
    row(
        "delegate",
        lambda w: ["delegate", w.resp2, APP, READ],
        *SERVICE_ADMINS,
        undo=[lambda w: ["undelegate", w.resp2, APP, READ]],
    ),
    row(
        "undelegate",
        lambda w: ["undelegate", w.resp1, APP, READ],
        *SERVICE_ADMINS,
        undo=[lambda w: ["delegate", w.resp1, APP, READ]],
    ),
    row(
        "me update",
        lambda w: ["me", "update", w.collab1, "--first-name", "Jeanne"],
        "agent",
        "collab1",
    ),
]
SECTIONS = {
    "catalogue and structures": CATALOGUE_AND_STRUCTURES,
    "services": SERVICES,
    "account creation": CREATION,
    "accounts": ACCOUNTS,
    "rights and self-service": RIGHTS,
}


def _prepare(cli: Cli, w: World, argv: list[str]) -> None:
    """A set-up step, as the agent; "submitted"/"invited" make a fresh creation request."""
    if argv[0] in ("submitted", "invited"):
        kind = argv[1]
        mail = unique("req") + "@example.org"
        service = None if kind == "administrateur" else SERVICE
        w.extra["request"] = flows.invite(cli, SIRET, kind, mail, service)
        w.extra["link"] = cli.link_for(mail)
        if argv[0] == "submitted":
            flows.complete(cli, mail, "Paul", "Lefèvre")
        return
    cli.run(*argv)  # may already be in place


def _fresh(cli: Cli, w: World, kind: str) -> None:
    """A target account of that type without habilitation: the last one, or a new one."""
    current = w.extra.get(kind)
    if not current or cli.run("account", "show", current).exit_code != 0:
        mail = unique("f") + "@example.org"
        service = None if kind == "administrateur" else SERVICE
        current = flows.account(cli, SIRET, kind, mail, "Fred", "Frais", service=service)
        w.extra[kind] = current
    w.extra["fresh"] = current


# Two tests of about equal time, each with a world of its own, so that xdist can run them
# on two workers: the matrix ended the suite alone. (Sections with the undo-free refusals:
# catalogue 0.9 s, services 1.1 s, creation 3.8 s, accounts 1.9 s, rights 1.2 s; a world
# 1.3 s — a test per section would cost four worlds more than one.)
HALVES = {
    "catalogue, structures and creation": ("catalogue and structures", "account creation"),
    "services, accounts and rights": ("services", "accounts", "rights and self-service"),
}
# A new section is tried: it has to be in one half.
assert sorted(s for h in HALVES.values() for s in h) == sorted(SECTIONS), "a section in no half"


@pytest.mark.parametrize("half", HALVES)
def test_every_actor_against_every_command(app_cli: Cli, slapd: SlapdInstance, half: str) -> None:
    """0 where the actor type may, 4 where it may not (and then nothing changed).

    One world for the sections of a half: each try is undone before the next, and what a
    section leaves (a structure, applications, requests) is of the kind the tries of one
    section already meet."""
    w = flows.world(app_cli)
    seen: list[Seen] = []
    with log_reader(slapd) as log:
        for section in HALVES[half]:
            _try_section(app_cli, log, w, SECTIONS[section], seen)
    wrong = [s for s in seen if s[2] != s[3]]
    assert not wrong, "\n".join(
        f"{label} as {actor}: expected {e}, got {g}" for label, actor, e, g in wrong
    )


def _try_section(app_cli: Cli, log: Directory, w: World, rows: list[Row], seen: list[Seen]) -> None:
    identifiers = {
        "agent": None,
        "adm_a": w.adm_a,
        "adm_b": w.adm_b,
        "resp1": w.resp1,
        "resp2": w.resp2,
        "collab1": w.collab1,
    }
    for r in rows:
        # Set up (as the agent) before a try, undone after a success only: a refusal wrote
        # nothing (checked), so the world is still as set up for the next actor — the same
        # try, without the set-up and undo steps (a third of the test) around each refusal.
        set_up = False
        for actor in ACTORS:
            if r.fresh:
                _fresh(app_cli, w, r.fresh)
            if not set_up:
                for step in r.setup:
                    _prepare(app_cli, w, step(w))
                set_up = True
            argv = r.argv(w)
            since = mark()
            result = app_cli.run(*argv, as_=identifiers[actor], input=r.stdin)
            expected = 0 if actor in r.allowed else 4
            seen.append((r.label, actor, expected, result.exit_code))
            if result.exit_code != 0:
                assert result.stderr.startswith("error:") and result.stdout == "", (r.label, actor)
                written = written_since(log, since)
                assert not written, f"{r.label} as {actor} wrote {shown(written)}"
                continue
            for step in r.undo:
                app_cli.run(*step(w))
            set_up = False
        if set_up:  # the last try was refused: undo the set-up, as after a success
            for step in r.undo:
                app_cli.run(*step(w))
