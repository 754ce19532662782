"""The tests' kept worlds (tests/worlds.py) are what the creation flows build."""

from __future__ import annotations

import secrets
import sqlite3
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from apexdir.config import Settings
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from tests.cli.flows import bind
from tests.conftest import fresh_store, wipe, write_config
from tests.helpers import SIRET, make_account, make_structure, register_sinks
from tests.worlds import WORLDS, _entries, _rows


def _world(config: Path, name: str) -> list[str]:
    make_structure(config, SIRET, name, "Comptabilité")
    admin = make_account(config, SIRET, "administrateur", "a.world@example.org", "Ada", "World")
    collab = make_account(config, SIRET, "collaborateur", "c.world@example.org", "Cy", "World",
                          service="Comptabilité", inviter=admin, validator=admin)  # fmt: skip
    return [admin, collab]


def _seen(settings: Settings, sinks: Any) -> tuple[Any, list[str], Any]:
    """The world as the directory, the state store and the mail sink hold it."""
    runtime = Runtime(settings)
    try:
        entries = _entries(runtime)
    finally:
        runtime.close()
    with sqlite3.connect(str(settings.state.path)) as conn:
        state = list(conn.iterdump())
    return entries, state, _rows(sinks.directory)


def _fresh(
    settings: Settings, sinks: Any, slapd: SlapdInstance, folder: Path, template: bytes
) -> tuple[Settings, Path]:
    """A test's start again: an empty directory, state store and sink."""
    from apexdir.dev.captured import clear

    wipe(slapd)
    clear(sinks.directory)
    folder.mkdir()
    state = fresh_store(folder / "state.db", template)
    fresh = settings.model_copy(update={"state": settings.state.model_copy(update={"path": state})})
    config = write_config(fresh, folder / "apexdir.toml")
    register_sinks(config, sinks.directory)
    return fresh, config


def test_a_kept_world_is_the_one_the_flows_built(
    settings: Settings,
    sinks: Any,
    slapd: SlapdInstance,
    tmp_path: Path,
    _state_template: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEST_WORLDS", raising=False)  # this test is about keeping them
    name = f"Banque {secrets.token_hex(4)}"  # a world no other test of this worker built
    first, config = _fresh(settings, sinks, slapd, tmp_path / "first", _state_template)
    before = dict(WORLDS.counts)
    identifiers = _world(config, name)
    assert WORLDS.counts["built"] == before["built"] + 3  # the flows ran
    built = _seen(first, sinks)
    assert built[2][0], "the pré-création mails reached the sink"

    again, config = _fresh(settings, sinks, slapd, tmp_path / "again", _state_template)
    assert _world(config, name) == identifiers
    assert WORLDS.counts["kept"] == before["kept"] + 3  # put back, not built
    kept = _seen(again, sinks)
    assert kept[0] == built[0]  # every entry, every user attribute, byte for byte
    assert kept[1] == built[1]  # the state store: queued mails, journal, keys
    assert kept[2] == built[2]  # the mails and texts received
    assert all(bind(slapd, identifier) for identifier in identifiers)  # slapd checks the hash

    # Kept on another day: forgotten, built again (dates the flows wrote would be stale).
    WORLDS.day = (date(2000, 1, 1), date(2000, 1, 1))
    _, config = _fresh(settings, sinks, slapd, tmp_path / "later", _state_template)
    built_before = WORLDS.counts["built"]
    assert _world(config, name) == identifiers
    assert WORLDS.counts["built"] == built_before + 3

    # The control: built for real once more, the world is the same but for what the flows
    # draw at random (the requests' identifiers), so the comparisons above can fail.
    monkeypatch.setenv("TEST_WORLDS", "build")
    rebuilt, config = _fresh(settings, sinks, slapd, tmp_path / "rebuilt", _state_template)
    assert _world(config, name) == identifiers
    real = _seen(rebuilt, sinks)
    assert sorted(real[0]) != sorted(built[0])
    assert _parents(real[0]) == _parents(built[0])


def _parents(entries: dict[str, Any]) -> Counter[str]:
    return Counter(dn.split(",", 1)[1] for dn in entries)
