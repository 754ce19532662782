"""What a command or a job works with: settings, clock, directory, state store — opened lazily."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from apexdir.clock import Clock, system_clock
from apexdir.config import Settings
from apexdir.directory.layout import Layout

if TYPE_CHECKING:
    import sqlite_utils

    from apexdir.directory.connection import Directory
    from apexdir.state.journal import Journal
    from apexdir.state.outbox import Outbox


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = system_clock
    operator: str = field(default_factory=os_user)

    @cached_property
    def layout(self) -> Layout:
        return Layout(self.settings.ldap.base_dn)

    @cached_property
    def directory(self) -> Directory:
        from apexdir.directory.connection import Directory

        return Directory(self.settings.ldap)

    @cached_property
    def db(self) -> sqlite_utils.Database:
        from apexdir.state.db import open_store

        return open_store(self.settings.state.path)

    @cached_property
    def outbox(self) -> Outbox:
        from apexdir.state.outbox import Outbox

        return Outbox(self.db, self.clock)

    @cached_property
    def journal(self) -> Journal:
        from apexdir.state.journal import Journal

        return Journal(self.db, self.clock, publish=self.publish_event)

    def publish_event(self, event: dict[str, Any]) -> None:
        """Write one event of a structure's history to the directory (the journal's
        publisher): every node reads it there, whichever node served the action."""
        from apexdir.directory.events import EventStore
        from apexdir.models import Event

        EventStore(self.directory, self.layout).add(Event(**event))

    def close(self) -> None:
        if "directory" in self.__dict__:
            self.directory.close()
        if "db" in self.__dict__:
            self.db.close()
