"""An aiosmtpd server that accepts every mail and keeps nothing: `python -m benchmarks.nullsink
PORT`. The outbox benchmark delivers to it too, to tell the spool's own cost from the
development sink's (which stores each mail in SQLite)."""

from __future__ import annotations

import signal
import sys
from typing import Any

from aiosmtpd.controller import Controller


class _Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def main() -> None:
    controller = Controller(_Accept(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
