"""Daemon jobs: each module has `run_once(settings, clock)`, used by the scheduler and the CLI."""
