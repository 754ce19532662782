"""The portal under gunicorn, as production and `apexdir dev up` run it.

Each worker builds its own application after the fork, and serves with THREADS threads
(gunicorn's gthread worker), each with its own runtime and so its own LDAP connection
(`apexdir.portal.context`). A sync worker is one request at a time: a client sending its
headers slowly held a whole worker, and 4 such connections froze the portal for > 10 s
(issue 18 item 5). With threads, a slow client holds one thread; the keep-alive connections
wait in the worker's poller, not in a thread. The reverse proxy in front buffers requests
(docs/install.md), which is what bounds the slow clients from the Internet.
`python -m apexdir.portal.server --config FILE --bind HOST:PORT [--workers N] [--threads N]`.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apexdir.config import Settings

LOG_FORMAT = "APEX_PORTAL_LOG_FORMAT"  # not APEXDIR_: that prefix is configuration


THREADS = 8
KEEPALIVE = 5  # seconds an idle keep-alive connection is kept (the proxy reuses them)
TIMEOUT = 30  # seconds a worker may stay silent before the master restarts it


def default_workers() -> int:
    """One worker per core, at least 2 (one can restart while the other serves)."""
    return max(2, os.cpu_count() or 1)


def run(
    config: str | None,
    bind: str,
    workers: int,
    pidfile: str | None = None,
    errorlog: str = "-",
    accesslog: str | None = None,
    threads: int = THREADS,
) -> None:
    from gunicorn.app.base import BaseApplication

    from apexdir import metrics

    settings = _prepare(config)
    _preload()

    def when_ready(_server: Any) -> None:
        # In the master: one metrics endpoint for the node, whatever the workers.
        if settings.metrics.portal_bind:
            metrics.serve(settings, settings.metrics.portal_bind, "portal")

    class Portal(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = _options(bind, workers, threads, pidfile, errorlog, accesslog)
            options["when_ready"] = when_ready
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            from apexdir.portal import create_app

            return create_app(settings)

    Portal().run()


def _preload() -> None:
    """The application's modules, imported once in the master before the fork, and the
    static files' table: each worker then builds its own application (runtime, connections)
    without importing or scanning them again — a worker (re)starts in a fraction of the
    time, and the workers share those pages."""
    import gc
    import importlib
    import pkgutil

    from apexdir.portal import assets, static_files, views

    for module in pkgutil.iter_modules(views.__path__):
        importlib.import_module(f"{views.__name__}.{module.name}")
    static_files.preload(assets.STATIC)
    # What the master holds now lives as long as the processes: out of the collector's
    # reach, the workers do not scan it — in particular at their exit, where the final
    # collection took ≈ 2 s of a worker's graceful stop (`dev down`, a systemd stop), and
    # their pages stay shared with the master (a collection writes in every object it
    # visits). The gc module's documentation recommends it before a fork.
    gc.freeze()


def _prepare(config: str | None) -> Settings:
    """The settings, checked before forking, with metrics folder and logging set up."""
    from apexdir import logs
    from apexdir.config import load_settings

    settings = load_settings(config)  # fail here, before forking, on a bad configuration
    if settings.metrics.portal_bind:
        # Before prometheus-client is imported anywhere: every worker then writes its request
        # counters into this folder, and the master's /metrics sums them (livemetrics.py).
        import tempfile

        os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="apexdir-portal-metrics-")
        )
    settings.portal.secret_key()
    logs.setup(settings.logging.format, settings.logging.level)
    os.environ[LOG_FORMAT] = settings.logging.format  # read by PortalLogger, built by gunicorn
    return settings


def _options(
    bind: str,
    workers: int,
    threads: int,
    pidfile: str | None,
    errorlog: str,
    accesslog: str | None,
) -> dict[str, Any]:
    """gunicorn's settings for the portal (None: gunicorn's default)."""
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "keepalive": KEEPALIVE,
        "timeout": TIMEOUT,
        "graceful_timeout": 10,
        "pidfile": pidfile,
        "errorlog": errorlog,
        "accesslog": accesslog,
        "proc_name": "apexdir-portal",
        "control_socket_disable": True,  # several portals may run on one host
        # Request lines and headers bounded: a portal faces the Internet.
        "limit_request_line": 4094,
        "limit_request_fields": 60,
        "logger_class": "apexdir.portal.server.PortalLogger",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="apexdir.portal.server")
    parser.add_argument("--config", default=os.environ.get("APEXDIR_CONFIG"))
    parser.add_argument("--bind", default="127.0.0.1:8080")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--pidfile")
    parser.add_argument("--errorlog", default="-")
    parser.add_argument("--accesslog")
    args = parser.parse_args(argv)
    run(
        args.config,
        args.bind,
        args.workers,
        args.pidfile,
        args.errorlog,
        args.accesslog,
        args.threads,
    )


if __name__ == "__main__":
    main()


def _logger_base() -> type:
    from gunicorn.glogging import Logger

    return Logger


class PortalLogger(_logger_base()):  # type: ignore[misc]
    """gunicorn's logger with the access line made safe (no query string, no token of a
    mailed link in the path) and, with `[logging] format = "json"`, one JSON object a line."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        from apexdir.logs import redact_path

        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = redact_path(atoms.get("U", "") or "")
        atoms["U"], atoms["q"] = path, ""
        atoms["r"] = f"{atoms.get('m', '')} {path} {atoms.get('H', '')}"
        atoms["f"] = "-"  # the Referer may carry a token too
        return atoms

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from apexdir.logs import formatter

        if os.environ.get(LOG_FORMAT) == "json":
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(formatter("json"))
