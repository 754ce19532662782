"""The pages every French public service owes its users, linked from every footer as the
DSFR lays it out: the accessibility statement (RGAA 4.1), the legal notice and the personal
data notice (RGPD articles 13 and 14); and the assistance contact (`[portal] support_url`,
`support_mail`) shown wherever the guide says « contactez votre assistance »."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template

from apexdir.portal.context import state

bp = Blueprint("informations", __name__)

FOOTER = (
    ("informations.accessibilite", "Accessibilité : partiellement conforme"),
    ("informations.mentions_legales", "Mentions légales"),
    ("informations.confidentialite", "Données personnelles"),
)
# When the statement was last checked against the pages (axe-core and the manual checks
# listed on it): change it with the statement.
STATEMENT_DATE = "6 décembre 2026"
AXE_VERSION = "4.14.1"  # tests/portal/vendor/axe.min.js (scripts/vendor_axe.sh)
ACCESSLOG_DAYS = 7  # slapd's accesslog purge (the directory's server set-up, cn=config)


@bp.get("/accessibilite")
def accessibilite() -> Any:
    return render_template(
        "informations/accessibilite.html",
        date=STATEMENT_DATE,
        axe_version=AXE_VERSION,
        base_url=state().settings.portal.base_url,
    )


@bp.get("/mentions-legales")
def mentions_legales() -> Any:
    return render_template(
        "informations/mentions_legales.html", base_url=state().settings.portal.base_url
    )


@bp.get("/confidentialite")
def confidentialite() -> Any:
    settings = state().settings
    return render_template(
        "informations/confidentialite.html",
        policy=settings.policy,
        portal=settings.portal,
        sms=bool(settings.sms.url),
        accesslog_days=ACCESSLOG_DAYS,
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    portal = app.extensions["apexdir"].settings.portal
    # Globals, not a context processor: the macros (imported without the context) use them.
    app.jinja_env.globals.update(
        footer_links=FOOTER,
        support={"url": portal.support_url, "mail": portal.support_mail},
    )
