"""Write a plan: online through pipelined LDAP writes, or offline as LDIF for slapadd.

Online, in dependency order with a barrier between levels (slapd runs the requests of one
connection concurrently): structures; services and applications; profiles; accounts; then
the habilitations, as large `member` modifies per profile (the memberof overlay turns each
value into a write on the account: fewer, larger requests keep that fan-out cheap on the
client side). An entry whose parent or reference failed is not sent, and says why.

Offline, the LDIF carries what slapd's overlays would have set, since they do not run
during slapadd: `memberOf` on each account (memberof), `pwdChangedTime` on accounts that
have a password (ppolicy). A habilitation that involves an entry already in the directory
cannot be written by slapadd; those go to a second file of LDIF modifications to apply
online once slapd runs again (memberof then sets memberOf). A big LDIF is written by two
processes, each rendering half the records (`_write_halves`).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from apexdir.bulk.dn import norm_dn
from apexdir.bulk.items import Problem
from apexdir.bulk.plan import Plan, Planned, PlannedAccount
from apexdir.directory import ldif
from apexdir.directory.bulk import ALREADY_EXISTS, SUCCESS, BulkWriter

MEMBERS_PER_MODIFY = 2000
Record = ldif.Record


class Progress(Protocol):
    def start(self, phase: str, total: int) -> None: ...
    def advance(self, count: int = 1) -> None: ...
    def stop(self) -> None: ...


class NoProgress:
    def start(self, phase: str, total: int) -> None:
        return None

    def advance(self, count: int = 1) -> None:
        return None

    def stop(self) -> None:
        return None


@dataclass
class Outcome:
    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)  # found at write time (a race)
    failures: list[Problem] = field(default_factory=list)
    interrupted: bool = False


class OnlineLoad:
    def __init__(
        self,
        writer: BulkWriter,
        plan: Plan,
        *,
        progress: Progress,
        on_account: Callable[[PlannedAccount], None],
    ) -> None:
        self.writer = writer
        self.plan = plan
        self.progress = progress
        self.on_account = on_account
        self.outcome = Outcome()
        self.failed: set[str] = set()  # norm DNs not written
        writer.on_result = self._result

    def _result(self, tag: Any, dn: str, code: int, message: str) -> None:
        kind, planned, count = tag
        self.progress.advance(count)
        if code == SUCCESS:
            self.outcome.created[kind] += count
            if isinstance(planned, PlannedAccount):
                self.on_account(planned)
            return
        if code == ALREADY_EXISTS and kind != "habilitations":
            self.outcome.existing[kind] += 1
            return
        self.failed.add(norm_dn(dn))
        line = planned.line if isinstance(planned, Planned) else 0
        self.outcome.failures.append(Problem(line, f"{dn}: {message or f'LDAP error {code}'}"))

    def _blocked(self, planned: Planned, refs: list[str]) -> bool:
        bad = next((r for r in refs if r and norm_dn(r) in self.failed), None)
        if bad is None:
            return False
        self.failed.add(norm_dn(planned.dn))
        self.outcome.failures.append(
            Problem(planned.line, f"{planned.dn}: not written, {bad} could not be")
        )
        self.progress.advance()
        return True

    def run(self) -> Outcome:
        plan = self.plan
        try:
            self.progress.start("entries", plan.entries())
            levels: list[tuple[str, list[Planned]]] = [
                ("structures", plan.structures),
                ("services", plan.services),
                ("applications", plan.applications),
                ("profiles", plan.profiles),
                ("accounts", plan.accounts),  # type: ignore[list-item]
            ]
            for kind, entries in levels:
                if kind != "applications":  # services and applications do not depend
                    self.writer.barrier()  # on each other: one level
                for planned in entries:
                    if not self._blocked(planned, _refs(planned)):
                        self.writer.add(planned.dn, planned.attrs, tag=(kind, planned, 1))
            self.writer.barrier()
            self.members()
            self.writer.barrier()
        except KeyboardInterrupt:
            self.outcome.interrupted = True
            self.writer.barrier()  # what was sent is answered (and accounts are mailed)
        finally:
            self.progress.stop()
        return self.outcome

    def members(self) -> None:
        by_profile: dict[str, list[str]] = {}
        for profile_dn, account_dn in self.plan.memberships:
            if norm_dn(profile_dn) in self.failed or norm_dn(account_dn) in self.failed:
                continue
            by_profile.setdefault(profile_dn, []).append(account_dn)
        self.progress.start("habilitations", sum(map(len, by_profile.values())))
        for profile_dn, accounts in by_profile.items():
            for i in range(0, len(accounts), MEMBERS_PER_MODIFY):
                chunk = accounts[i : i + MEMBERS_PER_MODIFY]
                self.writer.modify(
                    profile_dn,
                    {"member": [("add", chunk)]},
                    tag=("habilitations", None, len(chunk)),
                )


def _refs(planned: Planned) -> list[str]:
    """The entries `planned` needs: its parent, and what an account points at."""
    from apexdir.directory.mapping import parent_dn

    refs = [parent_dn(planned.dn)]
    if isinstance(planned, PlannedAccount):
        attrs = planned.attrs
        refs += [attrs["apexStructureRef"], attrs.get("apexServiceRef") or ""]
        refs += list(attrs.get("apexDelegatedProfile") or [])
    return refs


# ---------------------------------------------------------------------- offline
@dataclass
class OfflineFiles:
    entries: int
    members_path: Path | None
    members: int


def write_offline(
    plan: Plan,
    target: Path | TextIO,
    *,
    now: str,
    header: str,
    members_path: Path | None = None,
) -> OfflineFiles:
    """The LDIF for slapadd, parents first, into a file or a stream (e.g. slapadd's stdin);
    memberships slapadd cannot write go to `members_path` (default: next to the file)."""
    inline_members, member_of, later = _memberships(plan)

    def records() -> Iterator[Record]:
        for planned in (*plan.structures, *plan.services, *plan.applications):
            yield planned.dn, planned.attrs, ()
        for planned in plan.profiles:
            yield planned.dn, planned.attrs, (("member", inline_members.get(planned.dn)),)
        for account in plan.accounts:
            # What the overlays would have set, after the account's own attributes.
            tail: tuple[tuple[str, Any], ...] = (("memberOf", member_of.get(account.dn)),)
            if account.attrs.get("userPassword"):
                tail += (("pwdChangedTime", account.password_changed or now),)
            yield account.dn, account.attrs, tail

    if isinstance(target, Path):
        with open(target, "w", encoding="utf-8") as out:
            out.write(header)
            _write_halves(out, list(records()))
        members_path = members_path or target.with_name(target.stem + ".members.ldif")
    else:
        target.write(header)
        _write_halves(target, list(records()))
        target.flush()
    if not later or members_path is None:
        return OfflineFiles(plan.entries(), None, 0)
    _write_later(members_path, later)
    return OfflineFiles(plan.entries(), members_path, sum(map(len, later.values())))


Members = dict[str, list[str]]


def _memberships(plan: Plan) -> tuple[Members, Members, Members]:
    """(profile → members, account → profiles) of the habilitations between entries the
    file writes (slapadd writes both sides), and profile → members of the others."""
    written = {p.dn for p in plan.profiles} | {a.dn for a in plan.accounts}
    normed: set[str] = set()

    def is_new(dn: str) -> bool:
        """Whether this file writes `dn`. The validator names the plan's entries by their
        own DN strings: compared as they are first, loosely only when that fails."""
        if dn in written:
            return True
        if not normed:
            normed.update(norm_dn(d) for d in written)
        return norm_dn(dn) in normed

    inline_members: Members = {}
    member_of: Members = {}
    later: Members = {}
    for profile_dn, account_dn in plan.memberships:
        if is_new(profile_dn) and is_new(account_dn):
            inline_members.setdefault(profile_dn, []).append(account_dn)
            member_of.setdefault(account_dn, []).append(profile_dn)
        else:
            later.setdefault(profile_dn, []).append(account_dn)
    return inline_members, member_of, later


def _write_later(members_path: Path, later: Members) -> None:
    """The habilitations on entries already in the directory, as LDIF modifications."""
    with open(members_path, "w", encoding="utf-8") as out:
        out.write(
            "# Habilitations on entries already in the directory: apply online once\n"
            f"# slapd runs again, e.g. ldapmodify -f {members_path.name}\n\n"
        )
        for profile_dn, accounts in later.items():
            for i in range(0, len(accounts), MEMBERS_PER_MODIFY):
                out.write(_modify_record(profile_dn, accounts[i : i + MEMBERS_PER_MODIFY]))


FORK_FROM = 20_000  # records: below, rendering them all here costs less than a fork


def _write_records(out: TextIO, records: Iterable[Record]) -> None:
    for text in ldif.render(records):
        out.write(text)


def _write_halves(out: TextIO, records: list[Record]) -> None:
    """`_write_records`, the second half rendered meanwhile by a forked copy of this process:
    it inherits the plan (copy-on-write) instead of receiving it pickled, which would cost as
    much as rendering it. Not when another thread runs (a fork copies no thread and could
    inherit a lock held by one), nor for a small plan; if the copy fails, its half is
    rendered here."""
    half = len(records) // 2
    if len(records) < FORK_FROM or threading.active_count() > 1 or not hasattr(os, "fork"):
        _write_records(out, records)
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the copy: render, send, and leave without running the parent's exits
        code = 1
        try:
            os.close(read_end)
            data = "".join(ldif.render(records[half:])).encode("utf-8")
            with open(write_end, "wb") as pipe:
                pipe.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        _write_records(out, records[:half])
    finally:
        with open(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        out.write(data.decode("utf-8"))
    else:
        _write_records(out, records[half:])


def _modify_record(dn: str, members: list[str]) -> str:
    head = next(ldif.dump([(dn, {})])).rstrip("\n")
    body = "".join(
        chunk.split("\n", 1)[1].rstrip("\n") + "\n"
        for chunk in ldif.dump([(dn, {"member": members})])
    )
    return f"{head}\nchangetype: modify\nadd: member\n{body}-\n\n"
