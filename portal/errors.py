"""apexdir's named errors and HTTP errors → French pages: the one place, as the CLI's exit
codes are in one place. A page never shows a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from apexdir import messages
from apexdir.errors import ApexError, NotAllowed, NotFound, Unavailable

log = logging.getLogger("apexdir.portal")

PAGES: dict[int, tuple[str, str]] = {
    400: ("Requête invalide", "La demande envoyée n'a pas pu être comprise."),
    403: ("Accès refusé", "Vous n'avez pas les droits nécessaires pour accéder à cette page."),
    404: ("Page non trouvée", "La page que vous cherchez est introuvable."),
    405: ("Méthode non autorisée", "Cette page ne peut pas être demandée de cette façon."),
    413: ("Requête trop volumineuse", "Les données envoyées sont trop volumineuses."),
    429: (
        "Trop de demandes",
        "Vous avez fait trop de demandes en peu de temps : patientez une minute puis réessayez.",
    ),
    500: (
        "Erreur inattendue",
        "Une erreur est survenue de notre côté. Réessayez dans quelques instants.",
    ),
    503: (
        "Service momentanément indisponible",
        "Le service est momentanément indisponible. Aucune modification n'a été enregistrée : "
        "réessayez dans quelques minutes.",
    ),
}
CSRF_PAGE = (
    "Formulaire expiré",
    "Le formulaire a expiré ou a déjà été envoyé. Revenez à la page précédente, rechargez-la "
    "puis envoyez-le de nouveau.",
)


def page(status: int, title: str | None = None, text: str | None = None) -> tuple[str, int]:
    default_title, default_text = PAGES.get(status, PAGES[500])
    html = render_template(
        "erreur.html", status=status, title=title or default_title, text=text or default_text
    )
    return html, status


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return page(400, *CSRF_PAGE)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        return page(exc.code or 500)

    @app.errorhandler(Unavailable)
    def _unavailable(exc: Unavailable) -> Any:
        log.warning("unavailable: %s", exc)
        return page(503)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Any:
        return page(404)

    @app.errorhandler(NotAllowed)
    def _not_allowed(exc: NotAllowed) -> Any:
        return page(403)

    @app.errorhandler(ApexError)
    def _refused(exc: ApexError) -> Any:
        # A refusal that no view turned into a form message: say it plainly.
        return page(400, "Demande refusée", french(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unexpected error")
        return page(500)


def french(exc: ApexError) -> str:
    """The message of a refusal as a partner reads it, from the one catalogue
    (`apexdir.messages`): a capital, a full stop, each unmet rule of a password after it."""
    return messages.render(exc)
