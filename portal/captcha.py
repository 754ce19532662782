"""The captcha of the forgotten-password page (PORTAL.md): digits, as an image and as French
speech, generated here; single use; only a keyed hash of the answer is kept, in the
directory, so that any node can check it (`apexdir.workflows.captcha` records, claims and
checks; `apexdir.rules.captcha` derives the digits).

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
import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apexdir.rules.captcha import DIGITS, answer_of
from apexdir.workflows.captcha import check, claim_audio, discard, record

if TYPE_CHECKING:
    from apexdir.runtime import Runtime

__all__ = ["Challenge", "Pool", "answer_of", "check", "claim_audio", "discard", "new_challenge"]

POOL_SIZE = 16  # images ready per worker: a burst of 16 pages draws nothing on the request
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


_pools: dict[str, Pool] = {}
_pools_lock = threading.Lock()


def pool_for(key: str) -> Pool:
    """The process's pool for a portal key (one in production; tests build several)."""
    with _pools_lock:
        if key not in _pools:
            _pools[key] = Pool(key)
        return _pools[key]


def new_challenge(rt: Runtime) -> Challenge:
    """A fresh challenge from the process's pool, recorded (hashed) in the directory."""
    challenge = pool_for(rt.settings.portal.secret_key()).take()
    record(rt, challenge.id, challenge.answer)
    if rt.settings.portal.dev_sinks_dir is not None:
        _hand_to_dev_sinks(rt.settings.portal.dev_sinks_dir, challenge, rt.clock())
    return challenge


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
