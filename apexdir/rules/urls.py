"""Web addresses the catalogue hands to partners (« Accéder à l'application »). Pure.

Only absolute http:// and https:// addresses with a host: a `javascript:` or `data:` address
in a link would run in the portal's page, and a relative or schemeless one would lead
somewhere else than the agent meant. No credentials in the address, no white space (a
labeledURI value is "URI label": a space would start the label).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from apexdir.errors import Invalid
from apexdir.rules.text import control_character

MAX_LENGTH = 512
SCHEMES = ("http", "https")


def web_address(value: str, label: str = "adresse de l'application") -> str:
    """`value` as stored (trimmed), or `Invalid` saying what is expected."""
    url = value.strip()
    if not url:
        raise Invalid(f"{label} : vide")
    if len(url) > MAX_LENGTH:
        raise Invalid(f"{label} : {MAX_LENGTH} caractères au plus ({len(url)})")
    if control_character(url) or any(c.isspace() for c in url) or "\\" in url:
        raise Invalid(f"{label} : espace, barre oblique inversée ou caractère de contrôle")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError as exc:
        raise Invalid(f"{label} : adresse mal formée ({url})") from exc
    if parts.scheme.lower() not in SCHEMES or not url.lower().startswith(
        tuple(f"{s}://" for s in SCHEMES)
    ):
        raise Invalid(f"{label} : une adresse http:// ou https:// est attendue ({url})")
    if not host:
        raise Invalid(f"{label} : le nom du serveur manque ({url})")
    if "@" in parts.netloc:
        raise Invalid(f"{label} : pas d'identifiant ni de mot de passe dans l'adresse")
    return url
