"""Several slapd providers in multi-provider syncrepl, for `apexdir dev up --replicas N`.

Each provider is a `SlapdInstance` of its own folder (`<root>/slapd`, `<root>/slapd-2`, …)
with, in its slapd.conf:

- `serverID <n>` (global): the provider's number, carried in every entryCSN it writes;
- one `syncrepl` per other provider (refreshAndPersist, bound as the rootdn, retry every
  second) and `multiprovider on`, in the main database — the accesslog database is local
  to each provider and not replicated.

Every provider holds the same secrets (rootdn and apexdir's passwords): they are the first
provider's, copied. Only the first provider is loaded with the bootstrap LDIF; a provider
that joins is loaded with a copy of the first's data (slapcat → slapadd, entryUUID and
entryCSN kept), the way OpenLDAP's guide adds a provider. Loading the bootstrap in each would
give the same DNs different entryUUIDs and CSNs; an empty joining provider would be serving
an empty tree to clients (and to the other providers' consumers) until its first refresh.

Ports are chosen before any configuration is written, because each provider's syncrepl
names the others' URIs; a provider that had to move to another port (its own taken by
someone else) makes `start` rewrite and restart the providers that pointed at the old one.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apexdir.config import LdapSettings
from apexdir.directory import hashing
from apexdir.directory.connection import Directory
from apexdir.directory.server import (
    DEFAULT_BASE_DN,
    SlapdInstance,
    find_binary,
    free_port,
    port_open,
)
from apexdir.errors import ApexError, Unavailable

SECRETS = ("admin.pw", "apexdir.pw")
MARK = "# ---------------------------------------------------------------- replication\n"


def instance_dirs(root: Path, name: str = "slapd") -> list[Path]:
    """The provider folders that exist under `root`, first provider first."""
    found = [root / name] if (root / name).is_dir() else []
    numbered = []
    for path in root.glob(f"{name}-*"):
        suffix = path.name[len(name) + 1 :]
        if path.is_dir() and suffix.isdigit():
            numbered.append((int(suffix), path))
    return found + [path for _, path in sorted(numbered)]


@dataclass
class Provider(SlapdInstance):
    """A provider that joins a replica set: loaded with a copy of the first provider's data."""

    seed: SlapdInstance | None = None

    def _slapadd(self, ldif: str) -> None:
        # SlapdInstance.configure loads the bootstrap when the database is empty; a joining
        # provider loads the first one's entries instead, with their entryUUID and entryCSN.
        if self.seed is not None:
            ldif = slapcat(self.seed)
        super()._slapadd(ldif)


def slapcat(instance: SlapdInstance) -> str:
    """The main database of `instance` as LDIF (safe while it runs: mdb readers never block)."""
    binary = find_binary("slapcat", ("/usr/sbin/slapcat",))
    result = subprocess.run(
        [binary, "-f", str(instance.conf_file), "-b", instance.base_dn],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise Unavailable(f"slapcat failed: {result.stderr.strip()}")
    return result.stdout


def syncrepl_conf(rid: int, provider_uri: str, binddn: str, credentials: str, base_dn: str) -> str:
    """One consumer of the main database, pulling from `provider_uri`."""
    return (
        f"syncrepl rid={rid:03d}\n"
        f"        provider={provider_uri}\n"
        f"        bindmethod=simple\n"
        f'        binddn="{binddn}"\n'
        f'        credentials="{credentials}"\n'
        f'        searchbase="{base_dn}"\n'
        f"        type=refreshAndPersist\n"
        f'        retry="1 +"\n'
        f"        timeout=1\n"
        f"        network-timeout=1\n"
    )


@dataclass
class ReplicaSet:
    """`count` slapd providers replicating the main database to each other."""

    root: Path
    base_dn: str = DEFAULT_BASE_DN
    count: int = 2
    name: str = "slapd"
    dbnosync: bool = False
    loglevel: str = "none"
    lastbind_precision: int = 60
    instances: list[SlapdInstance] = field(init=False)

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("a replica set has at least one provider")
        self.root = Path(self.root).resolve()
        first = SlapdInstance(self.root / self.name, **self._options())
        others = [
            Provider(self.root / f"{self.name}-{n}", seed=first, **self._options())
            for n in range(2, self.count + 1)
        ]
        self.instances = [first, *others]

    def _options(self) -> dict[str, Any]:
        return {
            "base_dn": self.base_dn,
            "dbnosync": self.dbnosync,
            "loglevel": self.loglevel,
            "lastbind_precision": self.lastbind_precision,
        }

    @property
    def uris(self) -> list[str]:
        return [instance.uri for instance in self.instances]

    def running(self) -> list[bool]:
        return [instance.running() for instance in self.instances]

    # ------------------------------------------------------------------ set-up
    def _share_secrets(self) -> None:
        first = self.instances[0]
        first.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in SECRETS:
            source = first.secrets_dir / name
            if not source.exists():
                _write_secret(source, hashing.random_secret())
            for other in self.instances[1:]:
                target = other.secrets_dir / name
                if not target.exists() or target.read_text() != source.read_text():
                    other.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                    target.unlink(missing_ok=True)
                    _write_secret(target, source.read_text().strip())

    def _plan_ports(self) -> None:
        """Keep each provider's port (running, or saved and free); pick free ones otherwise."""
        taken: set[int] = set()
        for instance in self.instances:
            port = instance.port
            # A saved port someone else listens on now is no longer ours.
            if (
                port is None
                or port in taken
                or (not instance.running() and port_open(instance.host, port))
            ):
                port = free_port(instance.host)
                while port in taken:
                    port = free_port(instance.host)
            instance.port = port
            taken.add(port)

    def _configure_replication(self) -> None:
        first = self.instances[0]
        for number, instance in enumerate(self.instances, start=1):
            instance.global_conf = f"serverID {number}\n" if self.count > 1 else ""
            consumers = [
                syncrepl_conf(
                    peer_number,
                    peer.uri,
                    first.layout.admin_dn,
                    first.admin_password(),
                    self.base_dn,
                )
                for peer_number, peer in enumerate(self.instances, start=1)
                if peer is not instance
            ]
            instance.extra_conf = (
                "\n" + MARK + "".join(consumers) + "multiprovider   on\n" if consumers else ""
            )

    @staticmethod
    def _configured(instance: SlapdInstance) -> bool:
        """Whether the running slapd was started with the replication this set wants."""
        try:
            text = instance.conf_file.read_text()
        except OSError:
            return False
        if not instance.extra_conf:  # standalone: it must not replicate either
            return MARK not in text
        return instance.extra_conf in text and f"\n{instance.global_conf}" in text

    # ------------------------------------------------------------------ run
    def start(self, timeout: float = 15.0) -> None:
        """Start (or reuse) every provider; idempotent."""
        self._share_secrets()
        for _ in range(3):
            self._plan_ports()
            self._configure_replication()
            planned = [instance.port for instance in self.instances]
            for instance in self.instances:
                if instance.running() and not self._configured(instance):
                    instance.stop()
                instance.start(timeout=timeout)
            if [instance.port for instance in self.instances] == planned:
                return
            # One had to move: the others' syncrepl names its old port; go round again.
        raise Unavailable("the replicated slapd providers could not settle on their ports")

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()

    def destroy(self) -> None:
        for instance in self.instances:
            instance.destroy()

    # ------------------------------------------------------------------ convergence
    def admin(self, instance: SlapdInstance) -> Directory:
        """A rootdn connection to this one provider (no failover)."""
        ldap = LdapSettings(
            uris=[instance.uri],
            base_dn=self.base_dn,
            bind_dn=instance.layout.admin_dn,
            bind_password=instance.admin_password(),
            connect_timeout=2,
            receive_timeout=5,
        )
        return Directory(ldap)

    def context_csns(
        self, directories: Sequence[Directory] | None = None
    ) -> list[frozenset[str] | None]:
        """Each provider's contextCSN values (None when it does not answer): through
        `directories` (one per provider, in order) when given, else a connection each."""
        found: list[frozenset[str] | None] = []
        for number, instance in enumerate(self.instances):
            try:
                if directories is None:
                    with self.admin(instance) as directory:
                        entry = directory.get(self.base_dn, ["contextCSN"])
                else:
                    entry = directories[number].get(self.base_dn, ["contextCSN"])
            except ApexError:
                found.append(None)
                continue
            values = entry.all("contextCSN") if entry else []
            found.append(frozenset(str(v) for v in values))
        return found

    def converged(self) -> bool:
        """Every provider answers and has seen the same changes from every provider."""
        return _same(self.context_csns())

    def wait_converged(self, timeout: float = 30.0, interval: float = 0.1) -> None:
        # One connection per provider for the whole wait, not one per provider and poll:
        # connecting and binding at every poll was most of the wait's CPU (the tests wait
        # after every write they check on the other provider). A connection that breaks
        # (a provider restarting) is opened again at the next poll by `Directory` itself.
        directories = [self.admin(instance) for instance in self.instances]
        try:
            deadline = time.monotonic() + timeout
            while not _same(csns := self.context_csns(directories)):
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"the providers did not converge within {timeout:g} s: {csns}"
                    )
                time.sleep(interval)
        finally:
            for directory in directories:
                directory.close()


def _same(csns: list[frozenset[str] | None]) -> bool:
    return None not in csns and len(set(csns)) == 1


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
