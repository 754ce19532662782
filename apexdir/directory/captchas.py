"""The captcha's records in the directory (`ou=challenges`): one entry per challenge holding
the keyed hash of its answer and its expiry, and one beside it recording that its sound was
served. Single use everywhere: deleting an entry, or adding one that exists, succeeds once
whichever node tries."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apexdir.clock import from_generalized_time, to_generalized_time
from apexdir.directory import filters as f
from apexdir.directory.connection import Directory
from apexdir.directory.layout import Layout
from apexdir.errors import ApexError, Conflict, NotFound

AUDIO_SUFFIX = ".audio"  # the entry that records that a challenge's sound was served
SWEEP_LIMIT = 100  # expired records deleted per sweep


@dataclass(frozen=True)
class Record:
    answer_hash: str
    expires_at: datetime


def _expiry(value: Any) -> datetime:
    return value if isinstance(value, datetime) else from_generalized_time(str(value))


class Captchas:
    def __init__(self, directory: Directory, layout: Layout) -> None:
        self.directory = directory
        self.layout = layout

    def _add(self, cn: str, answer_hash: str, expires_at: datetime) -> None:
        self.directory.add(
            self.layout.challenge_dn(cn),
            {
                "objectClass": ["apexChallenge"],
                "cn": cn,
                "apexTokenHash": answer_hash,
                "apexExpiresAt": to_generalized_time(expires_at),
            },
        )

    def add(self, challenge_id: str, answer_hash: str, expires_at: datetime) -> None:
        self._add(challenge_id, answer_hash, expires_at)

    def read(self, challenge_id: str) -> Record | None:
        entry = self.directory.get(
            self.layout.challenge_dn(challenge_id), ["apexTokenHash", "apexExpiresAt"]
        )
        if entry is None:
            return None
        return Record(str(entry.get("apexTokenHash") or ""), _expiry(entry.get("apexExpiresAt")))

    def claim_audio(self, challenge_id: str, expires_at: datetime) -> bool:
        """Record that the challenge's sound is served; False when it was already."""
        try:
            self._add(challenge_id + AUDIO_SUFFIX, "served", expires_at)
        except Conflict:
            return False
        return True

    def take(self, challenge_id: str) -> bool:
        """Delete the challenge; True for the one caller that deleted it."""
        try:
            self.directory.delete(self.layout.challenge_dn(challenge_id))
        except NotFound:
            return False
        return True

    def discard(self, challenge_id: str) -> None:
        with contextlib.suppress(ApexError):  # already spent or swept
            self.directory.delete(self.layout.challenge_dn(challenge_id))

    def sweep(self, now: datetime) -> None:
        """Expired challenges (and their sounds' claims) deleted, a bounded batch at a time."""
        expired = self.directory.search(
            self.layout.challenges_dn,
            f.and_(f.eq("objectClass", "apexChallenge"), f.le("apexExpiresAt", now)),
            ["1.1"],
        )
        for entry in expired[:SWEEP_LIMIT]:
            with contextlib.suppress(ApexError):  # another node swept it
                self.directory.delete(entry.dn)
