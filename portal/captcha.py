"""The captcha of the forgotten-password page (PORTAL.md): digits, as an image and as French
speech, generated here; single use; only a keyed hash of the answer is kept, in the
directory, so that any node can check it.

The image and the sound are sent inside the page (data: addresses), so the answer never
has to be kept anywhere to serve them later. Rate limits stay the main defence: a captcha
only makes each try cost a person's attention.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apexdir.clock import from_generalized_time, to_generalized_time
from apexdir.directory import filters as f
from apexdir.errors import ApexError, NotFound

if TYPE_CHECKING:
    from apexdir.runtime import Runtime

DIGITS = 5
VOICES = Path(__file__).parent / "captcha_voices" / "fr"
ALT = (
    "Captcha : image de {n} chiffres à recopier dans le champ « Captcha ». Si vous ne "
    "pouvez pas la lire, écoutez l'extrait sonore ou changez d'image."
)


@dataclass(frozen=True)
class Challenge:
    id: str
    answer: str

    @cached_property
    def image(self) -> str:
        """The PNG as a data: address."""
        data = _image().generate(self.answer).getvalue()
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")

    @cached_property
    def audio(self) -> str:
        """The WAV (French digits) as a data: address."""
        data = bytes(_audio().generate(self.answer))
        return "data:audio/wav;base64," + base64.b64encode(data).decode("ascii")

    @property
    def alt(self) -> str:
        return ALT.format(n=DIGITS)


@cache
def _image() -> Any:
    from captcha.image import ImageCaptcha

    return ImageCaptcha(width=300, height=100, font_sizes=(56, 62, 68))


@cache
def _audio() -> Any:
    from captcha.audio import AudioCaptcha

    return AudioCaptcha(voicedir=str(VOICES))


def _digest(key: str, challenge_id: str, answer: str) -> str:
    message = f"{challenge_id}:{answer}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def normalize(answer: str) -> str:
    return "".join(ch for ch in answer if not ch.isspace())


def new_challenge(rt: Runtime) -> Challenge:
    """A fresh challenge, stored (hashed) in the directory; expired ones are swept first."""
    portal = rt.settings.portal
    now = rt.clock()
    _sweep(rt, now)
    challenge = Challenge(secrets.token_urlsafe(18), f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}")
    expiry = now + timedelta(minutes=portal.captcha_minutes)
    rt.directory.add(
        rt.layout.challenge_dn(challenge.id),
        {
            "objectClass": ["apexChallenge"],
            "cn": challenge.id,
            "apexTokenHash": _digest(portal.secret_key(), challenge.id, challenge.answer),
            "apexExpiresAt": to_generalized_time(expiry),
        },
    )
    if portal.dev_sinks_dir is not None:
        _hand_to_dev_sinks(portal.dev_sinks_dir, challenge, now)
    return challenge


def check(rt: Runtime, challenge_id: str | None, answer: str) -> bool:
    """Whether `answer` solves the challenge; the challenge is spent either way (deleting
    its entry succeeds once, so two requests racing with one answer get one yes)."""
    if not challenge_id or len(challenge_id) > 64:
        return False
    dn = rt.layout.challenge_dn(challenge_id)
    entry = rt.directory.get(dn, ["apexTokenHash", "apexExpiresAt"])
    if entry is None:
        return False
    try:
        rt.directory.delete(dn)
    except NotFound:
        return False
    stored = str(entry.get("apexTokenHash") or "")
    expires = entry.get("apexExpiresAt")
    expiry = expires if isinstance(expires, datetime) else from_generalized_time(str(expires))
    given = _digest(rt.settings.portal.secret_key(), challenge_id, normalize(answer))
    right = hmac.compare_digest(given, stored)
    return right and rt.clock() < expiry


def discard(rt: Runtime, challenge_id: str | None) -> None:
    if not challenge_id or len(challenge_id) > 64:
        return
    with contextlib.suppress(ApexError):  # already spent or swept
        rt.directory.delete(rt.layout.challenge_dn(challenge_id))


def _sweep(rt: Runtime, now: datetime) -> None:
    expired = rt.directory.search(
        rt.layout.challenges_dn,
        f.and_(f.eq("objectClass", "apexChallenge"), f.le("apexExpiresAt", now)),
        ["1.1"],
    )
    for entry in expired[:100]:
        with contextlib.suppress(ApexError):  # another node swept it
            rt.directory.delete(entry.dn)


def _hand_to_dev_sinks(directory: Path, challenge: Challenge, now: datetime) -> None:
    """Development only (the setting is refused elsewhere): scripts and tests read the answer
    with `apexdir dev captcha`."""
    from apexdir.devsinks import private_folder, write_private

    target = private_folder(directory) / "captcha.json"  # 0700 / 0600, like the sinks
    write_private(target, json.dumps({"id": challenge.id, "answer": challenge.answer,
                                      "at": now.isoformat()}))  # fmt: skip


def latest_dev_answer(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / "captcha.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None
