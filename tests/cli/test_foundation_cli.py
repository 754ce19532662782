"""The CLI's foundation: configuration errors, exit codes, help texts, the dev environment."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
from click.testing import CliRunner

from apexdir.cli.main import COMMANDS, cli
from apexdir.directory.server import pid_alive
from tests.ports import free_port


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("apexdir")
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "APEXDIR_CONFIG": ""},
    )


def test_missing_config_names_the_file(tmp_path: Path) -> None:
    """No configuration file: exit 1, one error line naming it."""
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "app", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "nope.toml" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_invalid_config_names_the_key(tmp_path: Path) -> None:
    """A bad value or an unknown key: the error names the file and the key."""
    path = tmp_path / "apexdir.toml"
    path.write_text('[ldap]\nuris = []\nbase_dn = "dc=x"\nbind_dn = "cn=x"\n[smtp]\nprot = 25\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "app", "list"])
    assert result.exit_code == 1
    assert str(path) in result.stderr
    assert "ldap.uris" in result.stderr and "smtp.prot" in result.stderr


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    """APEXDIR_SECTION__KEY overrides the TOML value."""
    from apexdir.config import load_settings

    path = tmp_path / "apexdir.toml"
    path.write_text('[ldap]\nuris = ["ldap://a"]\nbase_dn = "dc=x"\nbind_dn = "cn=x"\n')
    settings = load_settings(
        path,
        environ={"APEXDIR_SMTP__PORT": "2525", "APEXDIR_LDAP__URIS": '["ldap://b","ldap://c"]'},
    )
    assert settings.smtp.port == 2525
    assert settings.ldap.uris == ["ldap://b", "ldap://c"]


def test_directory_down_exits_5(tmp_path: Path) -> None:
    """A directory that does not answer: exit 5, one error line, nothing on stdout."""
    path = tmp_path / "apexdir.toml"
    secret = tmp_path / "pw"
    secret.write_text("x")
    path.write_text(
        f'[ldap]\nuris = ["ldap://127.0.0.1:{free_port()}"]\nbase_dn = "dc=x"\n'
        f'bind_dn = "cn=x"\nbind_password_file = "{secret}"\nconnect_timeout = 1\n'
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
    )
    result = CliRunner().invoke(cli, ["--config", str(path), "--json", "structure", "list"])
    assert result.exit_code == 5
    assert result.stderr.startswith("error: directory unavailable")
    assert result.stdout == ""


def test_usage_errors_exit_2_with_one_error_line(tmp_path: Path) -> None:
    """A missing option is exit 2 with an `error:` line."""
    result = CliRunner().invoke(cli, ["account", "refuse", "abc"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += _walk(sub, [*path, name])
    return found


def test_every_command_has_help_text() -> None:
    """Every command and group says what it does."""
    for path, command in _walk(cli, []):
        text = command.help or command.short_help or ""
        assert text.strip(), f"no help text: apexdir {' '.join(path)}"
    assert {"dev", "account", "grant", "daemon", "journal"} <= set(COMMANDS)


def test_dev_up_status_down(tmp_path: Path) -> None:
    """dev up starts slapd and sinks, writes apexdir.toml; up again reuses; down stops all.
    Then another process takes the port apexdir.toml gives the portal while it is stopped (a
    client's source port, say): `dev up` moves the portal to a new port and apexdir.toml's
    base_url follows. (One environment for both: each `dev up` starts slapd, the sinks, the
    daemon and gunicorn.)"""
    import socket

    up = run("--json", "dev", "up", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    first = json.loads(up.stdout)
    try:
        assert first["running"] is True
        assert (tmp_path / "apexdir.toml").exists()
        again = json.loads(run("--json", "dev", "up", cwd=tmp_path).stdout)
        assert again["ldap_uri"] == first["ldap_uri"]
        status = json.loads(run("--json", "dev", "status", cwd=tmp_path).stdout)
        assert {
            k: status[k] for k in ("running", "ldap_uri", "base_dn", "smtp_host", "smtp_port")
        } == {k: first[k] for k in ("running", "ldap_uri", "base_dn", "smtp_host", "smtp_port")}
        check = run("config", "check", cwd=tmp_path)
        assert check.returncode == 0, check.stdout
        assert check.stdout.count("OK") == 7  # the portal's key and the codes' key included
        # Issue 12: the HMAC key of the one-time codes, created owner-only and checked.
        key = tmp_path / "var" / "secrets.key"
        assert key.stat().st_mode & 0o777 == 0o600
        assert f'secrets_key_file = "{key}"' in (tmp_path / "apexdir.toml").read_text()
        assert "secrets-key" in check.stdout and "owner-only" in check.stdout
        key.chmod(0o644)
        assert run("config", "check", cwd=tmp_path).returncode == 1
        key.chmod(0o600)
        # The portal runs under gunicorn, on the address the mailed links use.
        assert status["portal_url"] == first["portal_url"]
        assert f'base_url = "{status["portal_url"]}"' in (tmp_path / "apexdir.toml").read_text()
        # Kept alive and closed by this side, as `dev up`'s own probe: the TIME_WAIT is then
        # on this side's port, and the portal's port can be squatted below.
        portal = http.client.HTTPConnection(urlsplit(status["portal_url"]).netloc, timeout=10)
        try:
            portal.request("GET", "/connexion")
            assert "Mon espace APEX Partenaires" in portal.getresponse().read().decode()
        finally:
            portal.close()
        pids = [
            int((tmp_path / "var/slapd/run/slapd.pid").read_text()),
            int((tmp_path / "var/sinks/sinks.pid").read_text()),
            int((tmp_path / "var/portal/gunicorn.pid").read_text()),
        ]
    finally:
        down = run("--json", "dev", "down", cwd=tmp_path)
    assert down.returncode == 0
    assert json.loads(down.stdout)["running"] is False
    assert not any(pid_alive(pid) for pid in pids)

    # The portal's own port may still be held by its connections in TIME_WAIT (the server
    # closed them): another port, written as the one the configuration keeps, is squatted.
    port = free_port()
    toml = tmp_path / "apexdir.toml"
    toml.write_text(toml.read_text().replace(first["portal_url"], f"http://127.0.0.1:{port}"))
    try:
        with socket.socket() as squatter:  # bound, not listening: a client's source port
            squatter.bind(("127.0.0.1", port))
            moved = json.loads(run("--json", "dev", "up", cwd=tmp_path).stdout)
        assert moved["portal_running"] is True
        assert moved["portal_url"] != f"http://127.0.0.1:{port}"
        config = (tmp_path / "apexdir.toml").read_text()
        assert f'base_url = "{moved["portal_url"]}"' in config
    finally:
        run("dev", "down", cwd=tmp_path)


@pytest.mark.parametrize("args", [["--help"], ["account", "--help"]])
def test_help_is_light(args: list[str]) -> None:
    """--help answers without loading the directory, mail or scheduler libraries."""
    code = (
        "import sys; from apexdir.cli.main import cli\n"
        f"try:\n    cli.main({args!r}, prog_name='apexdir')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('ldap3', 'apscheduler', 'aiosmtplib', 'sqlite_utils', 'jinja2')"
        " if m in sys.modules]\nprint(heavy, file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stderr.strip().splitlines()[-1] == "[]"
