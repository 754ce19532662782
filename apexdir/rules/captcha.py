"""The captcha's arithmetic (PORTAL.md), pure: a challenge's digits derived from its random id
under the portal's key, so that any node holding the key can draw or speak them, and the
keyed hash of an answer, the only thing the directory keeps."""

from __future__ import annotations

import hashlib
import hmac
import re

DIGITS = 5
ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{24}")  # secrets.token_urlsafe(18)


def answer_of(key: str, challenge_id: str) -> str:
    """The digits of a challenge: unpredictable without the portal's key, the same on
    every node that has it."""
    mac = hmac.new(key.encode(), f"captcha-answer:{challenge_id}".encode(), hashlib.sha256)
    return f"{int.from_bytes(mac.digest()[:8], 'big') % 10**DIGITS:0{DIGITS}d}"


def digest(key: str, challenge_id: str, answer: str) -> str:
    """The keyed hash of an answer, as the challenge's record keeps it."""
    message = f"{challenge_id}:{answer}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def normalize(answer: str) -> str:
    return "".join(ch for ch in answer if not ch.isspace())


def well_formed(challenge_id: str | None) -> bool:
    """Whether a challenge id from a form or an address can be one we issued."""
    return bool(challenge_id) and ID_SHAPE.fullmatch(challenge_id or "") is not None
