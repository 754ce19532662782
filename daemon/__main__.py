"""`python -m apexdir.daemon [--config FILE]`: the same as `apexdir daemon run`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m apexdir.daemon",
        description="apexdir's scheduler in the foreground; stops cleanly on SIGTERM/SIGINT.",
    )
    parser.add_argument("--config", default=None, help="configuration file (APEXDIR_CONFIG)")
    args = parser.parse_args(argv)

    from apexdir.config import load_settings
    from apexdir.daemon.app import run_forever
    from apexdir.errors import ApexError, Unavailable

    try:
        run_forever(load_settings(args.config))
    except ApexError as exc:
        print(f"error: {str(exc).replace(chr(10), ' ')}", file=sys.stderr)
        return 5 if isinstance(exc, Unavailable) else 1  # CLI.md's codes for `daemon run`
    return 0


if __name__ == "__main__":
    sys.exit(main())
