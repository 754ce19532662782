"""Identifier allocation for the accounts of an import: the ones the file gives (kept when
free, or required), the ones generated for the others (SPEC §3), never one in use or
belonging to a deleted account (SPEC §10)."""

from __future__ import annotations

from apexdir.bulk.snapshot import Snapshot
from apexdir.rules import identifiers
from apexdir.rules.import_rows import DIGITS, given_identifier_problem, stem_key


class Allocator:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snap = snapshot
        self.reserved: dict[str, int] = {}  # lower-case identifier given by the file → line
        self.taken: dict[str, set[str]] = {}  # stem_key → identifiers that may collide
        # A deleted account's identifier is never issued again (SPEC §10).
        for uid in (*snapshot.accounts, *snapshot.retired):
            self.taken.setdefault(stem_key(uid), set()).add(uid)

    def problem(self, uid: str) -> str | None:
        """Why an identifier the file requires cannot be given; None when it can."""
        return given_identifier_problem(uid, self.reserved, self.snap.accounts, self.snap.retired)

    def keepable(self, uid: str) -> bool:
        """Whether an identifier the file offers (a migration's) can be kept."""
        return self.problem(uid) is None

    def reserve(self, uid: str, line: int) -> None:
        self.reserved[uid.lower()] = line

    def seal(self) -> None:
        """The identifiers given, out of reach of the ones generated from now on."""
        for uid in self.reserved:
            self.taken.setdefault(stem_key(uid), set()).add(uid)

    def generate(self, first_name: str, last_name: str) -> str:
        """A new identifier from the names (`Invalid` when they make none)."""
        stem = identifiers.base_identifier(first_name, last_name)
        bucket = self.taken.setdefault(stem.rstrip(DIGITS), set())
        uid = identifiers.identifier(first_name, last_name, bucket)
        bucket.add(uid)
        return uid
