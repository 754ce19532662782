"""The catalogue's addresses: `app add --url`, `app update`, shown by `app list`."""

from __future__ import annotations

from tests.cli.test_human_output import human
from tests.helpers import Cli


def test_application_address_added_changed_and_removed(app_cli: Cli) -> None:
    """add --url, update --name/--url (an application added without one gets one), list."""
    out = app_cli.ok("app", "add", "FICOBA", "--name", "Ficoba", "--url", "https://ficoba.fr/")
    assert out["url"] == "https://ficoba.fr/"
    app_cli.ok("app", "add", "ADELIE", "--name", "Adélie")
    listed = {a["code"]: a for a in app_cli.ok("app", "list")}
    assert listed["FICOBA"]["url"] == "https://ficoba.fr/" and listed["ADELIE"]["url"] is None

    out = app_cli.ok("app", "update", "ADELIE", "--url", "http://adelie.example:8080/entree")
    assert out == {
        "code": "ADELIE",
        "name": "Adélie",
        "url": "http://adelie.example:8080/entree",
        "dn": out["dn"],
    }
    out = app_cli.ok("app", "update", "FICOBA", "--name", "Fichier des comptes bancaires")
    assert out["name"] == "Fichier des comptes bancaires" and out["url"] == "https://ficoba.fr/"
    table = human(app_cli, "app", "list").stdout
    assert "http://adelie.example:8080/entree" in table and "url" in table

    assert app_cli.ok("app", "update", "FICOBA", "--url", "")["url"] is None
    assert {a["code"]: a["url"] for a in app_cli.ok("app", "list")}["FICOBA"] is None


def test_application_address_must_be_http(app_cli: Cli) -> None:
    """A script, another scheme or a relative address is refused (exit 1), nothing written."""
    for bad in ("javascript:alert(1)", "//evil.example", "ftp://x.fr", "https://a b.fr"):
        err = app_cli.fails(1, "app", "add", "EVIL", "--name", "X", "--url", bad)
        assert "adresse de l'application" in err
    assert app_cli.ok("app", "list") == []
    app_cli.ok("app", "add", "APP", "--name", "App")
    err = app_cli.fails(1, "app", "update", "APP", "--url", "data:text/html,x")
    assert "http:// ou https://" in err
    assert app_cli.ok("app", "list")[0]["url"] is None
    app_cli.fails(3, "app", "update", "NOPE", "--url", "https://x.fr/")
    app_cli.fails(2, "app", "update", "APP")
