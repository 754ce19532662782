"""The password check module is compiled once per user and source, then copied."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from apexdir.directory.pwcheck import MODULE_NAME, build


def test_compiled_once_then_copied_and_a_broken_cache_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    compiler = tmp_path / "cc"
    compiler.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {shutil.which("gcc")} "$@"\n')
    compiler.chmod(0o755)
    monkeypatch.setenv("CC", str(compiler))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    first = build(tmp_path / "a")
    assert len(calls.read_text().splitlines()) == 1
    second = build(tmp_path / "b")
    assert len(calls.read_text().splitlines()) == 1  # copied from the cache
    assert second.read_bytes() == first.read_bytes()
    assert second == tmp_path / "b" / MODULE_NAME and second.stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "cache" / "apexdir" / "pwcheck").stat().st_mode & 0o777 == 0o700

    shutil.rmtree(tmp_path / "cache")
    (tmp_path / "cache").write_text("not a folder")  # a cache that cannot be used
    third = build(tmp_path / "c")
    assert len(calls.read_text().splitlines()) == 2  # compiled again, and built all the same
    assert third.read_bytes() == first.read_bytes()
