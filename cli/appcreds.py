"""`apexdir app credentials CODE`: an application's LDAP service account (create or rotate).

The command is attached to the `app` group by the lead (`app.add_command(credentials)`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import click

from apexdir.cli.context import CliContext, pass_cli


class _SecretFile:
    """The --output file, prepared before the rotation and put in place after it.

    A temporary file (mode 600 from the first byte) is created first, so that an unwritable
    destination fails before the old password is replaced; the rename keeps any previous
    file intact until the new secret is safely written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd, self.tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
        os.fchmod(self.fd, 0o600)

    def commit(self, secret: str) -> None:
        fd, self.fd = self.fd, -1
        with os.fdopen(fd, "w") as handle:
            # No trailing newline: `ldapsearch -y FILE` (and ldapwhoami, ldapmodify) send
            # the file's bytes as they are, a newline included.
            handle.write(secret)
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        """Remove what `commit` did not put in place (nothing after a commit)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        Path(self.tmp).unlink(missing_ok=True)


@click.command()
@click.argument("code")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the password to this file (mode 600) instead of printing it.",
)
@pass_cli
def credentials(cli: CliContext, code: str, output: Path | None) -> None:
    """Create or rotate the service account of application CODE; its password is shown once.

    A rotation invalidates the previous password at once.
    """
    from apexdir.workflows.applications import credentials as run

    target = None
    if output is not None:
        try:
            target = _SecretFile(output)
        except OSError as exc:
            from apexdir.errors import Invalid

            raise Invalid(f"--output {output}: {exc.strerror}") from None
    try:
        result = run(cli.runtime, cli.actor(), code)
        if target is not None:
            target.commit(result.pop("password"))
            result["password_file"] = str(output)
    finally:
        if target is not None:
            target.abandon()
    human = f"{'rotated' if result['rotated'] else 'created'}: {result['dn']}"
    if "password" in result:
        human += f"\npassword (shown once): {result['password']}"
    else:
        human += f"\npassword written to {output}"
    cli.emit(result, human)
