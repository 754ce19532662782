"""Dev sink files hold what real mails and SMS hold (codes, links) and the captcha's
answer: created 0600 in a 0700 folder, like the state store (issue 18, info)."""

from __future__ import annotations

import smtplib
import stat
from datetime import UTC, datetime
from pathlib import Path

from apexdir.dev.captured import captured_mails
from apexdir.dev.sinks import Sinks


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sink_database_and_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "sinks"
    with Sinks(folder) as sinks:
        with smtplib.SMTP(sinks.host, sinks.smtp_port) as smtp:
            smtp.sendmail("a@example.org", ["b@example.org"], "Subject: x\r\n\r\ncode 123456")
        assert captured_mails(folder)
        files = sorted(folder.glob("sinks.db*"))
        assert files
        for path in files:
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
    assert _mode(folder) == 0o700


def test_an_existing_sink_database_is_made_private(tmp_path: Path) -> None:
    """A sinks.db of an earlier `apexdir dev up` (0644) is closed to others at the next start."""
    folder = tmp_path / "sinks"
    folder.mkdir(mode=0o755)
    (folder / "sinks.db").touch(mode=0o644)
    (folder / "sinks.db").chmod(0o644)
    with Sinks(folder):
        assert _mode(folder / "sinks.db") == 0o600
    assert _mode(folder) == 0o700


def test_captcha_answer_file_is_private(tmp_path: Path) -> None:
    from apexdir.portal.captcha import Challenge, _hand_to_dev_sinks

    folder = tmp_path / "portal-sinks"
    challenge = Challenge(id="c1", answer="12345")
    _hand_to_dev_sinks(folder, challenge, datetime.now(UTC))
    assert _mode(folder / "captcha.json") == 0o600
    assert _mode(folder) == 0o700
