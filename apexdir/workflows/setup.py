"""Setting a directory up for apexdir (OPERATIONS.md): the base entries and policies
(`apexdir init`), the slapd configuration as cn=config LDIF and the bootstrap entries for an
existing OpenLDAP (`apexdir config cn-config`, `config bootstrap-ldif`)."""

from __future__ import annotations

from pathlib import Path

from apexdir.config import Settings
from apexdir.runtime import Runtime


def initialize(rt: Runtime) -> list[str]:
    """Load the base entries and the password policies; the DNs created (none when all are
    there: it may run again)."""
    from apexdir.directory.provision import initialize as provision

    created = provision(rt.directory, rt.layout, rt.settings.policy)
    rt.journal.record("init", rt.settings.ldap.base_dn, actor=None, operator=rt.operator)
    return created


def initialize_configured(settings: Settings) -> list[str]:
    """`initialize` for a directory named by settings alone (a development environment just
    started: no state store, no journal yet)."""
    from apexdir.directory.connection import Directory
    from apexdir.directory.layout import Layout
    from apexdir.directory.provision import initialize as provision

    with Directory(settings.ldap) as directory:
        return provision(directory, Layout(settings.ldap.base_dn), settings.policy)


def cn_config(base_dn: str, *, data_dir: Path, module_dir: Path) -> str:
    """The slapd configuration as cn=config LDIF, with these paths."""
    from apexdir.directory.cnconfig import export

    return export(base_dn, data_dir=data_dir, module_dir=module_dir)


def bootstrap_ldif(base_dn: str, secret: str) -> str:
    """The entries to load once as the rootdn before `apexdir init`: base, ou=system and
    apexdir's own account with this password (hashed)."""
    from apexdir.directory.hashing import ssha
    from apexdir.directory.layout import Layout
    from apexdir.directory.provision import render
    from apexdir.resources import ldif_dir

    return render(ldif_dir() / "bootstrap.ldif.j2", Layout(base_dn), apexdir_hash=ssha(secret))
