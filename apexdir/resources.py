"""Where the shipped schema, LDIF and templates are, in a checkout or an installed package."""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def schema_dir() -> Path:
    return _ROOT / "schema"


def ldif_dir() -> Path:
    return _ROOT / "ldif"
