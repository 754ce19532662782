"""The captcha of the forgotten-password page, as the directory keeps it (PORTAL.md): a
challenge is recorded when its page is shown, its sound claimed once, its answer checked
once. The portal draws the image and speaks the digits (`apexdir.portal.captcha`)."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from apexdir.directory.captchas import Captchas
from apexdir.rules.captcha import answer_of, digest, normalize, well_formed
from apexdir.runtime import Runtime

SWEEP_EVERY = timedelta(seconds=30)
_last_sweep: dict[str, datetime] = {}


def _captchas(rt: Runtime) -> Captchas:
    return Captchas(rt.directory, rt.layout)


def record(rt: Runtime, challenge_id: str, answer: str) -> None:
    """Keep a challenge (the keyed hash of its answer) until `portal.captcha_minutes`
    from now; expired ones are swept first."""
    portal = rt.settings.portal
    now = rt.clock()
    _sweep(rt, now)
    expiry = now + timedelta(minutes=portal.captcha_minutes)
    _captchas(rt).add(challenge_id, digest(portal.secret_key(), challenge_id, answer), expiry)


def claim_audio(rt: Runtime, challenge_id: str) -> str | None:
    """The answer to speak for a challenge whose sound is fetched for the first time; None
    when the challenge is unknown, spent, expired, or its sound was already served.

    Once only, on every node: the claim is an entry added beside the challenge, and adding
    an entry that exists fails — two fetches racing get one sound."""
    if not well_formed(challenge_id):
        return None
    found = _captchas(rt).read(challenge_id)
    if found is None or rt.clock() >= found.expires_at:
        return None
    if not _captchas(rt).claim_audio(challenge_id, found.expires_at):
        return None
    return answer_of(rt.settings.portal.secret_key(), challenge_id)


def check(rt: Runtime, challenge_id: str | None, answer: str) -> bool:
    """Whether `answer` solves the challenge; the challenge is spent either way (deleting
    its entry succeeds once, so two requests racing with one answer get one yes)."""
    if challenge_id is None or not well_formed(challenge_id):
        return False
    captchas = _captchas(rt)
    found = captchas.read(challenge_id)
    if found is None or not captchas.take(challenge_id):
        return False
    given = digest(rt.settings.portal.secret_key(), challenge_id, normalize(answer))
    right = hmac.compare_digest(given, found.answer_hash)
    return right and rt.clock() < found.expires_at


def discard(rt: Runtime, challenge_id: str | None) -> None:
    if challenge_id is not None and well_formed(challenge_id):
        _captchas(rt).discard(challenge_id)


def _sweep(rt: Runtime, now: datetime) -> None:
    """At most every SWEEP_EVERY per process: a search on every page was a third of its
    directory time."""
    last = _last_sweep.get(rt.layout.challenges_dn)
    if last is not None and last <= now < last + SWEEP_EVERY:
        return
    _last_sweep[rt.layout.challenges_dn] = now
    _captchas(rt).sweep(now)
