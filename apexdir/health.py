"""`apexdir config check`: one OK/KO line per dependency, never an exception."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from apexdir.errors import ApexError
from apexdir.runtime import Runtime


def run_checks(rt: Runtime) -> list[dict[str, Any]]:
    results = []
    for name, check in (
        ("ldap-bind", _ldap_bind),
        ("schema", _schema),
        ("base", _base),
        ("smtp", _smtp),
        ("state-store", _state),
        ("portal-key", _portal_key),
        ("secrets-key", _secrets_key),
    ):
        try:
            detail = check(rt)
            results.append({"name": name, "ok": True, "detail": detail})
        except (ApexError, OSError) as exc:
            results.append({"name": name, "ok": False, "detail": str(exc)})
    return results


def _ldap_bind(rt: Runtime) -> str:
    rt.directory.connection()
    return f"bound as {rt.settings.ldap.bind_dn} on {', '.join(rt.settings.ldap.uris)}"


def _schema(rt: Runtime) -> str:
    from apexdir.directory.provision import schema_present

    missing = schema_present(rt.directory)
    if missing:
        raise ApexError("missing object classes: " + ", ".join(missing))
    return "apexdir schema loaded"


def _base(rt: Runtime) -> str:
    from apexdir.directory.provision import apps_policy_dn, decoy_dn

    # The decoy and the applications' policy came with issue 12: an older directory lacks
    # them until `apexdir init` runs again (it creates only what is missing).
    for dn in (rt.layout.people_dn, rt.layout.structures_dn, rt.layout.default_policy_dn,
               apps_policy_dn(rt.layout), decoy_dn(rt.layout)):  # fmt: skip
        if not rt.directory.exists(dn):
            raise ApexError(f"{dn} is missing: run `apexdir init`")
    return "base entries, password policies and the decoy present"


def _smtp(rt: Runtime) -> str:
    smtp = rt.settings.smtp
    with socket.create_connection((smtp.host, smtp.port), timeout=smtp.timeout) as sock:
        banner = sock.recv(512).decode(errors="replace").strip()
    if not banner.startswith("220"):
        raise ApexError(f"unexpected SMTP greeting from {smtp.host}:{smtp.port}: {banner[:60]}")
    return f"{smtp.host}:{smtp.port} answers"


def _state(rt: Runtime) -> str:
    rt.db.execute("create table if not exists _healthcheck (x)")
    rt.db.execute("drop table _healthcheck")
    return f"{rt.settings.state.path} writable"


def _portal_key(rt: Runtime) -> str:
    """A node may run without the portal (daemon only); a key that is set must be usable and
    readable by its owner alone, since it signs every session."""
    portal = rt.settings.portal
    if portal.secret_key_file is None:
        return "portal.secret_key_file not set: this node cannot serve the portal"
    portal.secret_key()
    return _owner_only(portal.secret_key_file)


def _secrets_key(rt: Runtime) -> str:
    """The HMAC key of login and reset codes: usable, and readable by its owner alone (with
    it, the codes kept in the directory can be tried offline)."""
    ldap = rt.settings.ldap
    if ldap.secrets_key_file is None:
        return "ldap.secrets_key_file not set: codes keyed by the bind password (derived key)"
    ldap.secrets_key()
    return _owner_only(ldap.secrets_key_file)


def _owner_only(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ApexError(f"{path} is readable by others (mode {mode:o}): chmod 600 it")
    return f"{path} usable, owner-only"
