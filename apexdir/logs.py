"""Logging for the long-running processes (daemon, portal): one line per event, text or
JSON (`[logging] format`), with the request id, the actor and the action when known.

Secrets never reach a log: the journal holds none (it is the source of the event lines),
and the portal's access log drops query strings and the token of the mailed links' paths.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# Where a portal request came from ({"address": …, "user_agent": …}), set per request by the
# portal and added by the journal to what the request's actions record (issue 21 item 8).
request_source: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "request_source", default=None
)
# route, status and duration_ms: the portal's access lines (apexdir.portal.observability).
FIELDS = (
    "request_id",
    "actor",
    "action",
    "target",
    "route",
    "status",
    "duration_ms",
    "client",
    "proxy",
)
# The mailed links carry their secret in the path: /creation/<token>, /reinitialisation/<token>.
SECRET_PATHS = re.compile(r"^(/(?:creation|reinitialisation)/)[^/?]+")


def redact_path(path: str) -> str:
    """A request path fit for a log: no query string, no token."""
    return SECRET_PATHS.sub(r"\1…", path.split("?", 1)[0])


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = [f"{n}={getattr(record, n)}" for n in FIELDS if getattr(record, n, None)]
        return f"{text} [{' '.join(extra)}]" if extra else text


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else TextFormatter()


def setup(kind: str = "text", level: str = "INFO") -> None:
    """Configure the root logger once per process (stderr: systemd's journal takes it)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_apexdir", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._apexdir = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter(kind))
    handler.addFilter(_Context())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
