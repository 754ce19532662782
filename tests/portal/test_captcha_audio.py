"""The spoken captcha against the attack that read the old one (issue 18 item 2).

tests/portal/captcha_solver.py is that attack: template matching against a bank of
espeak-ng digits. It reads the old captcha (the `captcha` package mixing the voice files
the portal used to ship), and must not read the portal's."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.portal import captcha_solver

pytestmark = [
    pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed"),
    pytest.mark.slow,
]


def _answers(n: int) -> list[str]:
    return [f"{secrets.randbelow(10**5):05d}" for _ in range(n)]


def test_the_solver_reads_the_old_captcha() -> None:
    """Control: against the shipped voice files the attack works (the issue's 30/30)."""
    from captcha.audio import AudioCaptcha

    with tempfile.TemporaryDirectory() as work:
        voices = captcha_solver.old_voices(Path(work))
        solver = captcha_solver.Solver(captcha_solver.file_bank(voices))
        old = AudioCaptcha(voicedir=str(voices))
        answers = _answers(3)
        solved = [solver.solve(bytes(old.generate(a))) == a for a in answers]
    assert sum(solved) >= 2, solved
