"""The captcha of the forgotten-password page (PORTAL.md): digits, as an image and as French
speech, generated here; single use; only a keyed hash of the answer is kept, in the
directory, so that any node can check it.

The image is sent inside the page (a data: address, ≈ 15 KB); it is drawn ahead of the
request by a thread of each worker (`Pool`), so that the page costs a directory write and
no drawing. The sound is made only when its own address is fetched, once
(`claim_audio`), by `captcha_audio`. Neither needs the answer kept anywhere: the answer is
derived from the challenge's random id under the portal's key (`answer_of`), so any node
that has the key can draw or speak it. Rate limits stay the main defence: a captcha only
makes each try cost a person's attention.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apexdir.clock import from_generalized_time, to_generalized_time
from apexdir.directory import filters as f
from apexdir.errors import ApexError, Conflict, NotFound

if TYPE_CHECKING:
    from apexdir.runtime import Runtime

DIGITS = 5
POOL_SIZE = 16  # images ready per worker: a burst of 16 pages draws nothing on the request
ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{24}")  # secrets.token_urlsafe(18)
AUDIO_SUFFIX = ".audio"  # the entry that records that a challenge's sound was served
ALT = (
    "Captcha : image de {n} chiffres à recopier dans le champ « Captcha ». Si vous ne "
    "pouvez pas la lire, écoutez l'extrait sonore ou changez d'image."
)


@dataclass(frozen=True)
class Challenge:
    id: str
    answer: str
    png: bytes = b""  # drawn by `draw`; empty for a challenge only named (tests, dev sinks)

    @property
    def image(self) -> str:
        """The PNG as a data: address."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    @property
    def alt(self) -> str:
        return ALT.format(n=DIGITS)


@cache
def _image() -> Any:
    from captcha.image import ImageCaptcha

    return ImageCaptcha(width=300, height=100, font_sizes=(56, 62, 68))


def answer_of(key: str, challenge_id: str) -> str:
    """The digits of a challenge: unpredictable without the portal's key, the same on
    every node that has it."""
    mac = hmac.new(key.encode(), f"captcha-answer:{challenge_id}".encode(), hashlib.sha256)
    return f"{int.from_bytes(mac.digest()[:8], 'big') % 10**DIGITS:0{DIGITS}d}"


def draw(key: str) -> Challenge:
    """A challenge not yet stored: a random id, its answer, its image."""
    challenge_id = secrets.token_urlsafe(18)
    answer = answer_of(key, challenge_id)
    return Challenge(challenge_id, answer, _image().generate(answer).getvalue())


class Pool:
    """Challenges drawn ahead by one thread of the worker process, taken by the requests.

    The thread starts with the first request of the process (after gunicorn's fork: a
    thread started in the master would not survive it) and sleeps while the pool is full.
    An empty pool never makes a request wait for the thread: the request draws its own."""

    def __init__(self, key: str, size: int = POOL_SIZE) -> None:
        self.key = key
        self.size = size
        self._ready: deque[Challenge] = deque()
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def take(self) -> Challenge:
        self._start()
        try:
            challenge = self._ready.popleft()
        except IndexError:
            challenge = draw(self.key)
        self._wanted.set()
        return challenge

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._fill, name="captcha-pool", daemon=True)
                self._thread.start()

    def _fill(self) -> None:
        while True:
            while len(self._ready) < self.size:
                self._ready.append(draw(self.key))
            self._wanted.clear()
            self._wanted.wait()


def _digest(key: str, challenge_id: str, answer: str) -> str:
    message = f"{challenge_id}:{answer}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def normalize(answer: str) -> str:
    return "".join(ch for ch in answer if not ch.isspace())


_pools: dict[str, Pool] = {}
_pools_lock = threading.Lock()


def pool_for(key: str) -> Pool:
    """The process's pool for a portal key (one in production; tests build several)."""
    with _pools_lock:
        if key not in _pools:
            _pools[key] = Pool(key)
        return _pools[key]


def new_challenge(rt: Runtime) -> Challenge:
    """A fresh challenge from the process's pool, stored (hashed) in the directory;
    expired ones are swept first."""
    portal = rt.settings.portal
    now = rt.clock()
    _sweep(rt, now)
    challenge = pool_for(portal.secret_key()).take()
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


def claim_audio(rt: Runtime, challenge_id: str) -> str | None:
    """The answer to speak for a challenge whose sound is fetched for the first time; None
    when the challenge is unknown, spent, expired, or its sound was already served.

    Once only, on every node: the claim is an entry added beside the challenge, and adding
    an entry that exists fails — two fetches racing get one sound."""
    if not ID_SHAPE.fullmatch(challenge_id):
        return None
    entry = rt.directory.get(rt.layout.challenge_dn(challenge_id), ["apexExpiresAt"])
    if entry is None:
        return None
    expiry = _expiry(entry.get("apexExpiresAt"))
    if rt.clock() >= expiry:
        return None
    try:
        rt.directory.add(
            rt.layout.challenge_dn(challenge_id + AUDIO_SUFFIX),
            {
                "objectClass": ["apexChallenge"],
                "cn": challenge_id + AUDIO_SUFFIX,
                "apexTokenHash": "served",
                "apexExpiresAt": to_generalized_time(expiry),
            },
        )
    except Conflict:
        return None
    return answer_of(rt.settings.portal.secret_key(), challenge_id)


def _expiry(value: Any) -> datetime:
    return value if isinstance(value, datetime) else from_generalized_time(str(value))


def check(rt: Runtime, challenge_id: str | None, answer: str) -> bool:
    """Whether `answer` solves the challenge; the challenge is spent either way (deleting
    its entry succeeds once, so two requests racing with one answer get one yes)."""
    if not challenge_id or not ID_SHAPE.fullmatch(challenge_id):
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
    expiry = _expiry(entry.get("apexExpiresAt"))
    given = _digest(rt.settings.portal.secret_key(), challenge_id, normalize(answer))
    right = hmac.compare_digest(given, stored)
    return right and rt.clock() < expiry


def discard(rt: Runtime, challenge_id: str | None) -> None:
    if not challenge_id or not ID_SHAPE.fullmatch(challenge_id):
        return
    with contextlib.suppress(ApexError):  # already spent or swept
        rt.directory.delete(rt.layout.challenge_dn(challenge_id))


SWEEP_EVERY = timedelta(seconds=30)
_last_sweep: dict[str, datetime] = {}


def _sweep(rt: Runtime, now: datetime) -> None:
    """Expired challenges (and their sounds' claims) deleted, at most every SWEEP_EVERY per
    process: a search on every page was a third of its directory time."""
    last = _last_sweep.get(rt.layout.challenges_dn)
    if last is not None and last <= now < last + SWEEP_EVERY:
        return
    _last_sweep[rt.layout.challenges_dn] = now
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
    from apexdir.dev.sinks import private_folder, write_private

    target = private_folder(directory) / "captcha.json"  # 0700 / 0600, like the sinks
    write_private(target, json.dumps({"id": challenge.id, "answer": challenge.answer,
                                      "at": now.isoformat()}))  # fmt: skip


def latest_dev_answer(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / "captcha.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None
