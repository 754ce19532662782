"""The captcha's sound, at its own address: made when fetched, served once (issue 18).

`GET /mot-de-passe-oublie/captcha/<id>.wav` answers only the browser whose session holds
that challenge, only once (`captcha.claim_audio`), never cached; anything else is a 404
with no hint of why. Each fetch counts against the client's anonymous budget: speaking
costs a few hundred milliseconds of CPU."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, session

from apexdir.portal import captcha, captcha_audio
from apexdir.portal.context import rt
from apexdir.portal.security import limit_anonymous, no_referrer

bp = Blueprint("captcha", __name__)


@bp.get("/mot-de-passe-oublie/captcha/<challenge_id>.wav")
def audio(challenge_id: str) -> Any:
    if session.get("captcha") != challenge_id:
        abort(404)
    limit_anonymous("captcha-audio")
    answer = captcha.claim_audio(rt(), challenge_id)
    if answer is None:
        abort(404)
    response = Response(captcha_audio.render(answer).wav, mimetype="audio/wav")
    response.headers["Cache-Control"] = "no-store"
    # No Accept-Ranges: a player that cannot seek asks for the whole file, once.
    response.headers["Content-Disposition"] = 'inline; filename="captcha.wav"'
    return response


bp.after_request(no_referrer)
