"""`apexdir import` and `apexdir migrate-v1` as library calls: read, validate, write, journal.

1. Read the whole file (a line that cannot be read is a bad line like any other). A big
   LDIF file is read in pieces by one process per CPU, which also run each account's own
   checks (`apexdir.bulk.ldiffile`, `apexdir.bulk.checks`).
2. Read what exists: one search per kind (`apexdir.bulk.snapshot`).
3. Validate every line against the rules and what exists (`apexdir.bulk.validate`). Any bad
   line and nothing is written (`InvalidFile`, listing them all), unless `skip_invalid`.
4. Write: online, pipelined (`apexdir.bulk.load`), or offline as LDIF for slapadd.
5. Invite the new accounts to choose their password (migration, or `invite`).
6. One journal entry for the run, with counts only.

An interrupted run (Ctrl-C) waits for the answers to what it sent, journals what it did and
reports `interrupted`; the same command run again skips what exists and finishes the job.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from apexdir.bulk import csvfile, invites, ldiffile, v1
from apexdir.bulk import snapshot as snapshots
from apexdir.bulk.checks import Pool, checking_pool, gc_paused, gc_restored
from apexdir.bulk.items import Parsed, Problem
from apexdir.bulk.load import NoProgress, OnlineLoad, Outcome, Progress, write_offline
from apexdir.bulk.plan import Plan, PlannedAccount
from apexdir.bulk.validate import validate
from apexdir.clock import to_generalized_time
from apexdir.directory.bulk import DEFAULT_WINDOW, BulkWriter
from apexdir.errors import Invalid, NotAllowed
from apexdir.rules.permissions import Actor, ActorType
from apexdir.runtime import Runtime

MODES = {"import": "bulk.import", "migrate-v1": "bulk.migrate-v1"}
# Counts only: never names, mails, links (the journal is kept for months, read by every agent).
JOURNALED = ("format", "records", "invalid", "created", "existing", "identifiers", "invited",
             "interrupted", "offline")  # fmt: skip
BYTES_PER_ROW = 100  # a lower bound for CSV rows and LDIF records: enough to size the pool


class Stopwatch:
    """`with watch("phase"):` adds the phase's wall time to `timings[phase]`."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - start


class InvalidFile(Invalid):
    """Bad lines: nothing was written. `problems` lists every one, in file order."""

    def __init__(self, path: Path, problems: list[Problem], records: int) -> None:
        super().__init__(
            f"{path}: {len(problems)} invalid line(s) out of {records} record(s), nothing "
            "written (fix them, or pass --skip-invalid to load the valid lines only)"
        )
        self.problems = problems


@dataclass
class Options:
    skip_invalid: bool = False
    dry_run: bool = False
    offline: Path | TextIO | None = None  # a file, or a stream such as slapadd's stdin
    invite: bool = False
    window: int = DEFAULT_WINDOW
    progress: Progress = field(default_factory=NoProgress)


def read_import(
    path: Path, fmt: str | None, encoding: str, layout: Any, pool: Pool | None = None
) -> Parsed:
    text = csvfile.read_text(path, encoding)
    if fmt is None:
        suffix = path.suffix.lower()
        fmt = "ldif" if suffix == ".ldif" else "csv" if suffix == ".csv" else None
        fmt = fmt or ("ldif" if ldiffile.looks_like_ldif(text) else "csv")
    if fmt == "ldif":
        return ldiffile.parse_text(text, layout, pool)
    return csvfile.parse_text(text, path)


def import_file(
    rt: Runtime,
    actor: Actor,
    path: Path,
    *,
    fmt: str | None = None,
    encoding: str = "utf-8",
    options: Options | None = None,
) -> dict[str, Any]:
    """`apexdir import FILE`: structures, services, profiles, accounts, habilitations."""
    _require_agent(actor)
    path = Path(path)
    return _run(
        rt,
        path,
        "import",
        options or Options(),
        lambda pool: read_import(path, fmt, encoding, rt.layout, pool),
    )


def migrate_v1(
    rt: Runtime,
    actor: Actor,
    path: Path,
    *,
    encoding: str = "utf-8",
    default_service: str = v1.DEFAULT_SERVICE,
    options: Options | None = None,
) -> dict[str, Any]:
    """`apexdir migrate-v1 FILE`: N1 → administrateur, N2 → collaborateur; every new account
    is mailed a link to choose its password."""
    _require_agent(actor)
    path = Path(path)
    opts = options or Options()
    opts.invite = True
    return _run(
        rt,
        path,
        "migrate-v1",
        opts,
        lambda pool: v1.parse(path, encoding=encoding, default_service=default_service),
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _name(offline: Path | TextIO | None) -> str | None:
    if offline is None:
        return None
    return str(offline) if isinstance(offline, Path) else "-"


def _require_agent(actor: Actor) -> None:
    if actor.type != ActorType.AGENT:
        raise NotAllowed("bulk loads are for DGFiP agents")


def _run(
    rt: Runtime, path: Path, mode: str, opts: Options, read: Callable[[Pool | None], Parsed]
) -> dict[str, Any]:
    with gc_restored():
        return _load(rt, path, mode, opts, read)  # its items and plan are freed on return


def _load(
    rt: Runtime, path: Path, mode: str, opts: Options, read: Callable[[Pool | None], Parsed]
) -> dict[str, Any]:
    started = time.perf_counter()
    now = rt.clock()
    creator = f"{'apex-v1' if mode == 'migrate-v1' else 'import'}:{rt.operator}"
    timings: dict[str, float] = {}
    clock = Stopwatch(timings)
    with checking_pool(_size(path) // BYTES_PER_ROW) as pool, gc_paused():
        with clock("read"):
            parsed = read(pool)
        with clock("existing"):
            # Whether a password was ever set matters only to decide whom to invite.
            snap = snapshots.read(
                rt.settings.ldap, rt.layout, passwords=opts.invite and opts.offline is None
            )
        with clock("validate"):
            plan = validate(rt, parsed.items, snap, now=now, creator=creator, pool=pool)
    problems = sorted(parsed.problems + plan.problems, key=lambda p: p.line)
    if problems and not opts.skip_invalid:
        raise InvalidFile(path, problems, parsed.records)
    report: dict[str, Any] = {
        "file": str(path),
        "format": parsed.format,
        "mode": mode,
        "records": parsed.records,
        "invalid": len(problems),
        "problems": [p.public() for p in problems],
        "dry_run": opts.dry_run,
        "offline": _name(opts.offline),
        "planned": plan.creates(),
        "existing": dict(plan.existing),
        "identifiers": dict(plan.identifiers),
        "renamed": plan.renamed,
    }
    if opts.dry_run:
        return report
    if opts.offline is not None:
        with gc_paused(), clock("write"):
            outcome = _write_file(path, mode, plan, now, opts.offline, opts.invite, report)
    else:
        with clock("write"):
            outcome, invited = _write_online(rt, plan, now, opts)
        report["created"] = dict(outcome.created)
        for kind, count in outcome.existing.items():
            report["existing"][kind] = report["existing"].get(kind, 0) + count
        if opts.invite:
            report["invited"] = invited
    _conclude(rt, path, mode, report, outcome, time.perf_counter() - started, timings)
    return report


def _write_file(
    path: Path,
    mode: str,
    plan: Plan,
    now: datetime,
    target: Path | TextIO,
    invite: bool,
    report: dict[str, Any],
) -> Outcome:
    """`--offline`: the LDIF for slapadd (and the later habilitations), told in `report`."""
    header = (
        f"# apexdir {mode} of {path.name}, {to_generalized_time(now)}: load with\n"
        "# slapadd -q -w -f slapd.conf -l THIS_FILE (slapd stopped)\n\n"
    )
    members = None if isinstance(target, Path) else Path(f"{path.stem}.members.ldif")
    files = write_offline(
        plan,
        target,
        now=to_generalized_time(now),
        header=header,
        members_path=members,
    )
    report["members_file"] = str(files.members_path) if files.members_path else None
    report["created"] = {
        **plan.creates(),
        "habilitations": len(plan.memberships) - files.members,
    }
    report["deferred_habilitations"] = files.members
    if invite:
        report["invited"] = 0
        report["note"] = (
            "run the same command without --offline once the LDIF is "
            "loaded: it sends the invitations"
        )
    return Outcome()


def _conclude(
    rt: Runtime,
    path: Path,
    mode: str,
    report: dict[str, Any],
    outcome: Outcome,
    elapsed: float,
    timings: dict[str, float],
) -> None:
    """The outcome and the figures into `report`, and the run into the journal."""
    report["failed"] = [p.public() for p in outcome.failures]
    report["interrupted"] = outcome.interrupted
    written = sum(v for k, v in report["created"].items() if k != "habilitations")
    report["seconds"] = round(elapsed, 3)
    report["timings"] = {k: round(v, 3) for k, v in timings.items()}
    report["entries_per_second"] = round(written / elapsed, 1) if elapsed > 0 else None
    rt.journal.record(
        MODES[mode],
        path.name,
        actor=None,
        operator=rt.operator,
        details={k: report[k] for k in JOURNALED if report.get(k) is not None}
        | {"failed": len(outcome.failures)},
    )


def _write_online(rt: Runtime, plan: Plan, now: datetime, opts: Options) -> tuple[Outcome, int]:
    links: dict[str, str] = {}  # account DN → link: in memory only, never logged
    if opts.invite:
        for account in plan.accounts:
            record, links[account.dn] = invites.new_invitation(rt, now)
            account.attrs["apexResetSecret"] = record
            account.invite = True
    invited = 0

    def on_account(account: PlannedAccount) -> None:
        nonlocal invited
        if account.invite:
            invites.send(rt, account.identifier, account.mail, links.pop(account.dn))
            invited += 1

    with BulkWriter(rt.settings.ldap, window=opts.window) as writer:
        load = OnlineLoad(writer, plan, progress=opts.progress, on_account=on_account)
        outcome = load.run()
        if opts.invite and not outcome.interrupted and plan.passwordless:
            invited += _invite_again(rt, writer, plan, now)
    return outcome, invited


def _invite_again(rt: Runtime, writer: BulkWriter, plan: Plan, now: datetime) -> int:
    """Accounts of the file that exist without a password and were never invited."""
    done = invites.already_invited(rt)
    sent = 0

    def result(tag: Any, dn: str, code: int, message: str) -> None:
        nonlocal sent
        if code == 0:
            identifier, mail, url = tag
            invites.send(rt, identifier, mail, url)
            sent += 1

    writer.on_result = result
    for account in plan.passwordless:
        if account.mail.lower() in done:
            continue
        record, url = invites.new_invitation(rt, now)
        writer.modify(
            account.dn,
            {"apexResetSecret": [("replace", [record])]},
            tag=(account.uid, account.mail, url),
        )
    writer.barrier()
    return sent
