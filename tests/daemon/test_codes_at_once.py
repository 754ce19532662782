"""Login codes arrive at once, and only the live one (issue 23, item 3), with `apexdir
daemon run` as a real process whose scheduled outbox pass is a minute away: what brings
the code is the wake-up sent when it is queued, and its brief retries."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from apexdir.config import Settings
from apexdir.dev.captured import captured_mails
from apexdir.dev.sinks import Sinks
from apexdir.runtime import Runtime
from apexdir.workflows import auth
from tests.daemon.test_daemon_process import (  # noqa: F401 (fixtures)
    Daemon,
    config,
    daemons,
    sink,
    spool,
    start,
)
from tests.helpers import PASSWORD, SIRET, Cli, wait_for

CODE = re.compile(r"code de vérification (\d{6}) pour")


@pytest.fixture
def slow_config(config: Path) -> Path:  # noqa: F811
    """The daemon's scheduled outbox pass every 60 s: only a wake-up can be quicker."""
    text = config.read_text(encoding="utf-8").replace("outbox_seconds = 1", "outbox_seconds = 60")
    config.write_text(text, encoding="utf-8")
    return config


@pytest.fixture
def partner(app_cli: Cli) -> tuple[str, str]:
    """An active account, made before the daemon starts (its mails go to the CLI's sink)."""
    app_cli.ok("structure", "create", "--siret", SIRET, "--category", "Banques",
               "--name", "Banque Exemple")  # fmt: skip
    mail = "marie.martin@example.org"
    return app_cli.create_account(SIRET, "administrateur", mail, "Marie", "Martin"), mail


def codes_at(where: Sinks, mail: str) -> list[str]:
    return [c for m in captured_mails(where.directory, to=mail) for c in CODE.findall(m["body"])]


def ready(config: Path, daemons: list[Daemon]) -> Daemon:  # noqa: F811
    daemon = start(config, daemons, "daemon")
    wait_for(lambda: "job outbox" in daemon.log(), 15, "the daemon's first outbox pass")
    return daemon


def seconds_until(condition: Callable[[], Any], timeout: float, what: str) -> float:
    started = time.monotonic()
    wait_for(condition, timeout, what)
    return time.monotonic() - started


def test_a_login_code_arrives_within_a_second(
    settings: Settings, slow_config: Path, sink: list[Sinks], daemons: list[Daemon],  # noqa: F811
    partner: tuple[str, str],
) -> None:  # fmt: skip
    """« Se connecter »: the code is at the SMTP sink within a second, not at the next slot."""
    identifier, mail = partner
    daemon = ready(slow_config, daemons)
    rt = Runtime(settings, operator="tester")
    try:
        auth.login(rt, identifier, PASSWORD)
        seconds = seconds_until(lambda: codes_at(sink[0], mail), 20, "the code")
    finally:
        rt.close()
    # The scheduled pass is a minute away (slow_config): only the wake-up delivers this fast;
    # the bound leaves room for a loaded machine.
    assert seconds < 5
    assert daemon.stop() == 0


def test_smtp_down_then_back_delivers_the_newest_code_only(
    settings: Settings, slow_config: Path, sink: list[Sinks], daemons: list[Daemon],  # noqa: F811
    partner: tuple[str, str],
) -> None:  # fmt: skip
    """SMTP down: two logins, the first code is dropped, the second retried every second;
    SMTP back: the second arrives within about two seconds, the first never."""
    identifier, mail = partner
    daemon = ready(slow_config, daemons)
    port = sink[0].smtp_port
    sink[0].stop()
    rt = Runtime(settings, operator="tester")
    try:
        auth.login(rt, identifier, PASSWORD)
        auth.login(rt, identifier, PASSWORD)
        wait_for(lambda: spool(settings)[-1]["attempts"] >= 2, 30, "two failed tries")
    finally:
        rt.close()
    first, second = spool(settings)[-2:]
    assert first["status"] == "dropped" and first["attempts"] <= 1
    assert second["status"] == "queued" and "cannot connect" in second["last_error"]
    back = Sinks(sink[0].directory, smtp_port=port)
    back.start()
    sink.append(back)
    seconds = seconds_until(lambda: codes_at(back, mail), 30, "the newest code")
    assert seconds < 8  # retried every second, the scheduled pass a minute away
    time.sleep(1.5)  # a late copy of the first code would be here by now
    assert len(codes_at(back, mail)) == 1
    assert [r["status"] for r in spool(settings)[-2:]] == ["dropped", "sent"]
    assert daemon.stop() == 0
