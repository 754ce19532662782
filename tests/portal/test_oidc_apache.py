"""Interoperability with a real relying party: Debian's Apache with mod_auth_openidc in
front of a CGI that prints the claims it was given, the portal on a loopback port, and the
whole login (password, mailed code) in headless chromium."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from tests.helpers import Cli
from tests.portal.conftest import PASSWORD, Partner, last_code
from tests.portal.test_browser import CHROMIUM, ThreadedCli
from tests.ports import free_port

APACHE = Path("/usr/sbin/apache2")
MODULES = Path("/usr/lib/apache2/modules")
NEEDED = ("mod_auth_openidc.so", "mod_mpm_prefork.so", "mod_cgi.so")

pytestmark = pytest.mark.skipif(
    not APACHE.exists()
    or not all((MODULES / m).exists() for m in NEEDED)
    or not Path(CHROMIUM).exists()
    or os.geteuid() != 0,
    reason="apache2, mod_auth_openidc or chromium missing (scripts/bootstrap.sh --browser)",
)

CLAIMS_CGI = """#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\r\\n\\r\\n'
env | grep '^OIDC_CLAIM_' | sort
"""
CONF = """ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn auth_openidc:info
DefaultRuntimeDir {root}
Mutex file:{root} default
User www-data
Group www-data
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule alias_module {modules}/mod_alias.so
LoadModule cgi_module {modules}/mod_cgi.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule env_module {modules}/mod_env.so
LoadModule headers_module {modules}/mod_headers.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
StartServers 1
MinSpareServers 1
MaxSpareServers 2
TypesConfig /etc/mime.types
DocumentRoot "{root}/htdocs"

OIDCProviderMetadataURL {portal}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI http://127.0.0.1:{port}/protege/callback
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid profile email"
OIDCPKCEMethod S256
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCPassClaimsAs environment
OIDCSSLValidateServer Off

ScriptAlias /protege/ "{root}/cgi/"
<Directory "{root}/cgi">
    Require all granted
</Directory>
<Location /protege/>
    AuthType openid-connect
    Require claim apex_profiles:CONSULTATION
</Location>
<Directory "{root}/htdocs">
    Require all granted
</Directory>
"""


def wait_for(port: int, proc: subprocess.Popen[bytes], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"apache2 exited ({proc.returncode}): {output}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
def app_cli(config_file: Path, sinks: Any) -> Cli:
    from tests.helpers import register_sinks

    register_sinks(config_file, sinks.directory)
    return ThreadedCli(config_file)


@pytest.fixture
def portal(make_app: Callable[..., Flask]) -> Iterator[str]:
    """The portal on a loopback port known before it starts (the issuer is its address)."""
    from werkzeug.serving import make_server

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, make_app(base_url=base), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()


@pytest.fixture
def relying_party(portal: str, app_cli: Cli, partner: Partner) -> Iterator[str]:
    """A private Apache (root starts it, www-data serves) protecting /protege/."""
    port = free_port()
    app_cli.ok("app", "add", "FICOBA", "--name", "Fichier des comptes bancaires")
    app_cli.ok("app", "profile-add", "FICOBA", "CONSULTATION")
    app_cli.ok("grant", partner.identifier, "FICOBA", "CONSULTATION")
    client = app_cli.ok(
        "app", "oidc-client", "FICOBA",
        "--redirect-uri", f"http://127.0.0.1:{port}/protege/callback",
        "--post-logout-uri", f"http://127.0.0.1:{port}/index.html",
    )  # fmt: skip
    # Not under pytest's private temporary directory: www-data must read the CGI.
    root = Path(tempfile.mkdtemp(prefix="apexdir-rp-"))
    root.chmod(0o755)
    (root / "cgi").mkdir(mode=0o755)
    (root / "htdocs").mkdir(mode=0o755)
    (root / "htdocs" / "index.html").write_text("<p>Application FICOBA</p>", encoding="utf-8")
    script = root / "cgi" / "claims"
    script.write_text(CLAIMS_CGI, encoding="utf-8")
    script.chmod(0o755)
    conf = root / "httpd.conf"
    conf.write_text(
        CONF.format(
            root=root,
            port=port,
            modules=MODULES,
            portal=portal,
            client_id=client["client_id"],
            client_secret=client["client_secret"],
            passphrase=secrets.token_hex(16),
        ),
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [str(APACHE), "-f", str(conf), "-DFOREGROUND"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/sbin:/usr/bin:/bin", "APACHE_RUN_DIR": str(root)},
        # prefork signals its whole process group when it stops: not pytest's.
        start_new_session=True,
    )
    try:
        wait_for(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log = root / "error.log"
        if log.exists():
            print(log.read_text(encoding="utf-8", errors="replace")[-4000:])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def test_mod_auth_openidc_logs_in_with_password_and_mailed_code(
    chromium: Any, relying_party: str, app_cli: Cli, partner: Partner
) -> None:
    """Apache sends the browser to the portal; after the password and the mailed code it
    gets the claims (profiles of its application, never a phone); logout comes back."""
    context = chromium.new_context(locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(relying_party + "/protege/claims")
        page.wait_for_url(re.compile(r"/connexion$"))
        page.fill("#identifiant", partner.identifier)
        page.fill("#mot_de_passe", PASSWORD)
        page.get_by_role("button", name="Se connecter", exact=True).click()
        page.wait_for_url(re.compile(r"/connexion/code$"))
        page.fill("#code", last_code(app_cli, partner.mail))
        page.get_by_role("button", name="Vérifier", exact=True).click()
        page.wait_for_url(relying_party + "/protege/claims")
        text = page.inner_text("body")
        assert f"OIDC_CLAIM_preferred_username={partner.identifier}" in text, text
        assert "OIDC_CLAIM_apex_profiles=CONSULTATION" in text
        assert "OIDC_CLAIM_apex_type=collaborateur" in text
        assert "OIDC_CLAIM_family_name=Martin" in text
        assert "phone" not in text and "mobile" not in text
        sub = re.findall(r"OIDC_CLAIM_sub=(\S+)", text)
        assert sub and sub[0] != partner.identifier

        # RP-initiated logout: mod_auth_openidc → end_session_endpoint → back to Apache.
        back = relying_party + "/index.html"
        page.goto(f"{relying_party}/protege/callback?logout={quote(back, safe='')}")
        page.wait_for_url(back)
        assert "Application FICOBA" in page.inner_text("body")
        page.goto(relying_party + "/protege/claims")
        page.wait_for_url(re.compile(r"/connexion$"))
    finally:
        context.close()
