"""The cn=config form of the slapd configuration apexdir generates, for an existing OpenLDAP.

One template (templates/slapd.conf.j2) is the source of truth; slaptest converts it to
cn=config, and this module cleans the result (no operational attributes, no generated
root password) so it can be reviewed and loaded with `slapadd -n0` or, entry by entry,
with `ldapadd -Y EXTERNAL -H ldapi:///`.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import parse_dn

from apexdir.directory.server import SlapdInstance, _render, find_binary
from apexdir.errors import Invalid, Unavailable
from apexdir.rules.text import control_character

OPERATIONAL = (
    "structuralObjectClass:", "entryUUID:", "creatorsName:", "createTimestamp:", "entryCSN:",
    "modifiersName:", "modifyTimestamp:", "olcRootPW:", "olcRootPW::",
    # Where slaptest converted (a temporary folder, gone since): slapd sets both itself from
    # its -f/-F arguments, and stale values in cn=config mislead whoever reads it.
    "olcConfigFile:", "olcConfigDir:",
)  # fmt: skip


def _check_base_dn(base_dn: str) -> None:
    """The base DN is written into slapd.conf lines: a DN, on one line, or `Invalid` (and
    not slaptest's failure, reported as an unavailable directory)."""
    try:
        parse_dn(base_dn)
        valid = control_character(base_dn) is None
    except LDAPInvalidDnError:
        valid = False
    if not valid:
        raise Invalid(f"base DN {base_dn!r}: not a DN (e.g. dc=apex,dc=dgfip,dc=finances,…)")


def export(
    base_dn: str,
    *,
    data_dir: Path = Path("/var/lib/ldap/apex"),
    run_dir: Path = Path("/var/run/slapd"),
    module_dir: Path = Path("/usr/local/lib/apexdir"),
) -> str:
    """cn=config LDIF equal to the dev/test slapd.conf, with production paths."""
    _check_base_dn(base_dn)
    slaptest = find_binary("slaptest", ("/usr/sbin/slaptest",))
    slapcat = find_binary("slapcat", ("/usr/sbin/slapcat",))
    with tempfile.TemporaryDirectory(prefix="apexdir-cnconfig-") as tmp:
        work = Path(tmp)
        instance, conf = _prepare(work, base_dn)
        text = _convert(conf, work / "slapd.d", slaptest=slaptest, slapcat=slapcat)
    text = (
        text.replace(str(instance.module_dir), str(module_dir))
        .replace(str(instance.data_dir), str(data_dir))
        .replace(str(instance.run_dir), str(run_dir))
    )
    lines = [line for line in text.splitlines() if not line.startswith(OPERATIONAL)]
    return "\n".join(_header(module_dir, data_dir) + lines) + "\n"


def _prepare(work: Path, base_dn: str) -> tuple[SlapdInstance, Path]:
    """A temporary instance under `work` ready for slaptest: module, folders, conf, databases."""
    instance = SlapdInstance(work / "instance", base_dn=base_dn)
    instance.module_dir.mkdir(parents=True, exist_ok=True)
    from apexdir.directory.pwcheck import build

    build(instance.module_dir)
    values = instance.template_values()
    # slaptest opens the modules and checks the folders while converting: convert with
    # the temporary ones, then rewrite them to the production paths in the output.
    for folder in (
        instance.data_dir / "main",
        instance.data_dir / "accesslog",
        instance.run_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    conf = work / "slapd.conf"
    conf.write_text(
        _render(Path(__file__).with_name("templates") / "slapd.conf.j2", values),
        encoding="utf-8",
    )
    # slaptest opens the databases read-only: create them empty first.
    slapadd = find_binary("slapadd", ("/usr/sbin/slapadd",))
    for suffix in ("cn=accesslog", base_dn):
        subprocess.run([slapadd, "-q", "-f", str(conf), "-b", suffix], input=b"",
                       capture_output=True)  # fmt: skip
    return instance, conf


def _convert(conf: Path, out: Path, *, slaptest: str, slapcat: str) -> str:
    """slapd.conf converted by slaptest into `out`, dumped as LDIF by slapcat."""
    out.mkdir()
    converted = subprocess.run(
        [slaptest, "-f", str(conf), "-F", str(out)], capture_output=True, text=True
    )
    if converted.returncode != 0:
        raise Unavailable(f"slaptest failed: {converted.stderr.strip()}")
    dumped = subprocess.run(
        [slapcat, "-n0", "-F", str(out), "-o", "ldif-wrap=no"], capture_output=True, text=True
    )
    if dumped.returncode != 0:
        raise Unavailable(f"slapcat failed: {dumped.stderr.strip()}")
    return dumped.stdout


def _header(module_dir: Path, data_dir: Path) -> list[str]:
    """The comment lines opening the exported LDIF."""
    return [
        "# apexdir — cn=config of an APEX directory, generated from slapd.conf.j2 by",
        "# `apexdir config cn-config`. Set olcRootPW (or use SASL EXTERNAL) yourself; build the",
        f"# password check module into {module_dir} first (see README, Install on an existing",
        "# OpenLDAP). Paths: data in " + str(data_dir) + ".",
        "",
    ]
