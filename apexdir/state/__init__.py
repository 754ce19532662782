"""Node-local state in SQLite: the mail/SMS spool, the journal and the daemon's job cursors.

Only this package touches SQLite; everything durable that every node must see lives in the
directory instead (SPEC §9).
"""

import sys


def _import_sqlite_utils() -> None:
    """sqlite_utils, imported with numpy and pandas hidden from it.

    At its own import, sqlite_utils imports numpy and pandas when they are installed, only to
    convert their values, and apexdir stores none: numpy (installed with the tests' extra) cost
    every apexdir process ≈ 0.12 s of CPU at start-up, the largest single import of the CLI,
    the daemon and the portal. Hidden only for that import: whatever wants numpy later still
    imports it.
    """
    if "sqlite_utils" in sys.modules:
        return
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import → ImportError
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


_import_sqlite_utils()
