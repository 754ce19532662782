"""The captcha through the portal: an image drawn ahead, a sound made on demand at its own
address, served once (issue 18 items 2 and 5, issue 19 item 15)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from apexdir.portal import captcha, captcha_audio
from tests.portal.conftest import Browser

AUDIO = re.compile(r'<audio[^>]* src="(/mot-de-passe-oublie/captcha/[A-Za-z0-9_-]{24}\.wav)"')
needs_espeak = pytest.mark.skipif(
    not captcha_audio.available(), reason="espeak-ng and sox are not installed"
)


def _audio_path(browser: Browser) -> str:
    found = AUDIO.findall(browser.last)
    assert found, "no audio address on the page"
    return found[0]


def test_reset_page_is_light(browser: Browser) -> None:
    """The page carries the image, not the sound: well under 100 KB."""
    page = browser.get("/mot-de-passe-oublie")
    assert page.status_code == 200
    assert len(page.data) <= 100_000, len(page.data)
    assert "data:audio" not in page.text


@needs_espeak
def test_audio_is_served_once(browser: Browser) -> None:
    """The sound answers once, uncached, as a WAV of speech; a second fetch is refused."""
    browser.get("/mot-de-passe-oublie")
    path = _audio_path(browser)
    first = browser.get(path)
    assert first.status_code == 200
    assert first.mimetype == "audio/wav"
    assert first.headers["Cache-Control"] == "no-store"
    assert "Accept-Ranges" not in first.headers
    assert 4.0 < captcha_audio.duration(first.data) < 15.0
    again = browser.get(path)
    assert again.status_code == 404
    assert "audio" not in again.mimetype


@needs_espeak
def test_audio_only_for_its_own_session(app: Flask, browser: Browser) -> None:
    """Another browser (another session) cannot fetch a challenge's sound, nor spend it."""
    browser.get("/mot-de-passe-oublie")
    path = _audio_path(browser)
    stranger = app.test_client()
    assert stranger.get(path).status_code == 404
    assert browser.get(path).status_code == 200


def test_audio_of_a_spent_or_expired_challenge(
    make_app: Callable[..., Flask], browser: Browser
) -> None:
    """No sound for a challenge already answered, nor for one past its minutes."""
    browser.get("/mot-de-passe-oublie")
    path = _audio_path(browser)
    browser.post("/mot-de-passe-oublie", {"identifiant": "x.y-px", "captcha": "00000"})
    with browser.client.session_transaction() as session:
        session["captcha"] = path.rsplit("/", 1)[1].removesuffix(".wav")
    assert browser.get(path).status_code == 404

    later = [datetime.now(UTC)]
    app = make_app(clock=lambda: later[0])
    other = Browser(app.test_client(), browser.dev_dir)
    other.get("/mot-de-passe-oublie")
    later[0] += timedelta(minutes=6)
    assert other.get(_audio_path(other)).status_code == 404


def test_answer_is_derived_from_the_id(app: Flask, browser: Browser) -> None:
    """Any node with the key can speak a challenge: its answer follows from its id."""
    browser.get("/mot-de-passe-oublie")
    challenge_id = _audio_path(browser).rsplit("/", 1)[1].removesuffix(".wav")
    key = app.extensions["apexdir"].settings.portal.secret_key()
    assert captcha.answer_of(key, challenge_id) == browser.captcha()


def test_pool_draws_ahead() -> None:
    """The pool fills itself in the background; an empty pool still answers at once."""
    pool = captcha.Pool("k" * 48, size=3)
    first = pool.take()  # empty: drawn on the spot
    assert len(first.answer) == 5 and first.png.startswith(b"\x89PNG")
    assert first.answer == captcha.answer_of("k" * 48, first.id)
    for _ in range(200):
        if len(pool._ready) == 3:
            break
        time.sleep(0.02)
    assert len(pool._ready) == 3
    assert len({pool.take().id for _ in range(3)}) == 3


@needs_espeak
def test_expired_challenges_and_claims_are_swept(make_app: Callable[..., Flask]) -> None:
    """A page after the challenges' minutes deletes the expired ones and their sounds'
    claims (the sweep runs at most every 30 s per process, not on every page)."""
    from apexdir.directory import filters as f

    now = [datetime.now(UTC) + timedelta(hours=1)]  # ahead of any sweep of other tests
    app = make_app(clock=lambda: now[0])
    client = Browser(app.test_client(), Path("/nonexistent"))
    client.get("/mot-de-passe-oublie")
    assert client.get(_audio_path(client)).status_code == 200
    rt = app.extensions["apexdir"].runtime()

    def challenges() -> int:
        found = rt.directory.search(
            rt.layout.challenges_dn, f.eq("objectClass", "apexChallenge"), ["1.1"]
        )
        return len(found)

    assert challenges() == 2  # the challenge and its sound's claim
    now[0] += timedelta(minutes=6)
    client.get("/mot-de-passe-oublie")
    assert challenges() == 1  # only the new page's challenge
