"""Ports for the processes the tests start themselves (slapd from cn=config, gunicorn,
Apache, the systemd units' commands).

`apexdir.directory.server.free_port` asks the kernel for a free port: one of its ephemeral
range (ip_local_port_range), the range every outgoing connection takes its own port from.
A test writes that port into a configuration and starts the process seconds later; in a
full run, four workers open thousands of LDAP, SMTP and HTTP connections in between, and
one of them once took the port: the process could not listen ("slapd died"). Ports below
the ephemeral range are never handed out to outgoing connections; one picked at random
there and free now stays free unless another test picks the same one (1 in ~20,000).
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

from apexdir.dev.process import bindable  # as slapd, gunicorn and Apache bind: SO_REUSEADDR

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10000  # below: well-known and registered services a developer may run


def _ephemeral() -> tuple[int, int]:
    try:
        low, high = (int(n) for n in RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return low, high


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now and outside the kernel's ephemeral range (inside it if that range
    leaves nothing below it)."""
    low, high = _ephemeral()
    candidates = range(LOWEST, low) if low - LOWEST >= 1000 else range(high + 1, 65536)
    if len(candidates) >= 1000:
        for port in random.sample(candidates, 50):
            if bindable(host, port):
                return port
    with socket.socket() as sock:  # no room outside the range: the kernel's pick
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
