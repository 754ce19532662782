"""The addresses of applications: absolute http(s) addresses only, refused with a reason."""

from __future__ import annotations

import pytest

from apexdir.errors import Invalid
from apexdir.rules.urls import web_address


@pytest.mark.parametrize(
    "value",
    [
        "https://ficoba.impots.gouv.fr/",
        "http://127.0.0.1:8080/app?x=1#y",
        "HTTPS://Exemple.fr/chemin",
        "  https://exemple.fr  ",
    ],
)
def test_absolute_http_addresses_are_kept(value: str) -> None:
    """An http(s) address with a host is stored trimmed, otherwise as typed."""
    assert web_address(value) == value.strip()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("javascript:alert(1)", "http:// ou https://"),
        ("data:text/html,<b>x</b>", "http:// ou https://"),
        ("ftp://exemple.fr/", "http:// ou https://"),
        ("//evil.example/", "http:// ou https://"),
        ("https:evil.example", "http:// ou https://"),
        ("exemple.fr", "http:// ou https://"),
        ("https://", "nom du serveur"),
        ("https://user:secret@exemple.fr/", "mot de passe"),
        ("https://exemple.fr/a b", "espace"),
        ("https://exemple.fr\\@evil", "barre oblique"),
        ("https://exemple.fr:99999/", "mal formée"),
        ("https://exemple.fr/\x00", "contrôle"),
        ("", "vide"),
        ("https://exemple.fr/" + "a" * 600, "512 caractères"),
    ],
)
def test_other_addresses_are_refused(value: str, words: str) -> None:
    """Scripts, other schemes, relative or schemeless addresses, credentials: refused."""
    with pytest.raises(Invalid) as caught:
        web_address(value)
    assert words in caught.value.message
