"""StartTLS with a CA file: the adapter verifies the server's certificate."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apexdir.config import LdapSettings
from apexdir.directory.connection import Directory
from apexdir.directory.server import SlapdInstance
from apexdir.errors import Unavailable


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1, made with openssl."""
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem")
    )

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=apexdir test CA",
    )
    ssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    ext = folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    ssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return ca, cert, key


def test_starttls_with_ca_file(tmp_path: Path) -> None:
    """With the CA: bound over TLS. Without it: the certificate is refused (exit 5)."""
    ca, cert, key = _certificates(tmp_path)
    instance = SlapdInstance(
        tmp_path / "slapd",
        dbnosync=True,
        global_conf=f"TLSCACertificateFile {ca}\nTLSCertificateFile {cert}\n"
        f"TLSCertificateKeyFile {key}\n",
    )
    instance.start()
    try:
        base = {
            "uris": [instance.uri],
            "base_dn": instance.base_dn,
            "bind_dn": instance.layout.apexdir_dn,
            "bind_password": instance.apexdir_password(),
            "starttls": True,
        }
        with Directory(LdapSettings(**base, ca_file=ca)) as directory:
            assert directory.exists(instance.layout.apexdir_dn)
            assert directory.connection().tls_started
        (tmp_path / "other").mkdir()
        other_ca, _, _ = _certificates(tmp_path / "other")
        with pytest.raises(Unavailable):
            Directory(LdapSettings(**base, ca_file=other_ca)).exists(instance.layout.apexdir_dn)
    finally:
        instance.destroy()
