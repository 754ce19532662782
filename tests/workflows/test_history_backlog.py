"""A history event the directory does not take waits in the node's store and is written
later (issue 21 item 8): the action is done, its history is neither failed nor lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apexdir.errors import Unavailable
from apexdir.logs import request_source
from apexdir.state.db import open_store
from apexdir.state.journal import Journal


def test_an_event_waits_for_the_directory_then_is_written(tmp_path: Path) -> None:
    db = open_store(tmp_path / "state.db")
    written: list[dict[str, Any]] = []
    down = True

    def publish(event: dict[str, Any]) -> None:
        if down:
            raise Unavailable("directory unavailable")
        written.append(event)

    journal = Journal(db, publish=publish)
    token = request_source.set({"address": "192.0.2.7", "user_agent": "Test/1"})
    try:
        journal.record("grant", "bob-px", actor="alice-px", details={"profile": "A/B"},
                       structure="73282932000074", service="svc")  # fmt: skip
    finally:
        request_source.reset(token)
    journal.record("auth.verified", "bob-px", actor="bob-px", structure="73282932000074")
    assert db.execute("SELECT COUNT(*) FROM history_backlog").fetchone()[0] == 1
    assert journal.entries()[0]["details"]["source"]["address"] == "192.0.2.7"

    down = False
    journal.record("revoke", "bob-px", actor=None, operator="jdupont", structure="73282932000074")
    assert [e["action"] for e in written] == ["revoke", "grant"]  # the waiting one follows
    grant = written[1]
    assert grant["actor"] == "alice-px" and grant["service"] == "svc"
    assert grant["details"]["source"] == {"address": "192.0.2.7", "user_agent": "Test/1"}
    assert written[0]["actor"] == "agent:jdupont"
    assert db.execute("SELECT COUNT(*) FROM history_backlog").fetchone()[0] == 0
    assert journal.flush() == 0
    db.close()
