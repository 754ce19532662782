"""Daemon jobs: each module has `run_once(settings, clock)`, used by the scheduler and the CLI."""

# Before the jobs' own `import sqlite_utils`: through apexdir.state, which imports it without
# numpy (apexdir/state/__init__.py).
import apexdir.state  # noqa: F401
