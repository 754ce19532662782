"""Two slapd providers in multi-provider syncrepl, for the tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from apexdir.directory.replication import ReplicaSet


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[ReplicaSet]:
    providers = ReplicaSet(tmp_path / "var", count=2, dbnosync=True)
    providers.start()
    yield providers
    providers.destroy()
