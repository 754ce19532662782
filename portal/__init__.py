"""« Mon espace APEX Partenaires »: the partners' web portal (PORTAL.md).

A thin layer over `apexdir.workflows`: a view parses a form, calls one workflow with the
session's account as the actor, and renders. No business rule is written here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from apexdir.clock import Clock, system_clock

if TYPE_CHECKING:
    from flask import Flask

    from apexdir.config import PortalSettings, Settings


def create_app(settings: Settings | None = None, *, clock: Clock = system_clock) -> Flask:
    """The WSGI application; `settings` default to the configuration file (APEXDIR_CONFIG)."""
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect
    from werkzeug.middleware.proxy_fix import ProxyFix

    from apexdir.config import load_settings
    from apexdir.portal import assets, errors, observability, security, static_files
    from apexdir.portal.context import PortalState
    from apexdir.portal.templating import COMPILED

    settings = settings or load_settings()
    portal = settings.portal
    app = Flask(__name__)
    _configure(app, portal)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.bytecode_cache = COMPILED
    app.extensions["apexdir"] = PortalState(settings, clock)
    CSRFProtect(app)
    # Compressed, long-cached, hashed names: answered before Flask sees the request.
    static_files.serve(app, assets.STATIC)
    if portal.trusted_proxies:
        n = portal.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    observability.register(app)  # first: its clock starts before the other hooks
    assets.register(app)
    security.register(app)
    errors.register(app)
    _register_views(app)
    return app


def _configure(app: Flask, portal: PortalSettings) -> None:
    """Flask's settings: session cookie, CSRF lifetime, request size limits."""
    from apexdir.config import is_loopback_url

    app.config.update(
        SECRET_KEY=portal.secret_key(),
        SESSION_COOKIE_NAME="apex_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure everywhere but on the development loopback, which is plain http.
        SESSION_COOKIE_SECURE=not is_loopback_url(portal.base_url),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=portal.session_max_hours),
        WTF_CSRF_TIME_LIMIT=portal.session_max_hours * 3600,
        MAX_CONTENT_LENGTH=64 * 1024,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )


def _register_views(app: Flask) -> None:
    """The portal's pages: blueprints, then the views that register their own hooks."""
    from apexdir.portal.views import (
        captcha,
        comptes,
        connexion,
        creation,
        espace,
        historique,
        informations,
        mesdonnees,
        motdepasse,
        oidc,
        revue,
        sante,
        services,
        session,
        suspension,
    )

    for blueprint in (
        connexion.bp,
        creation.bp,
        motdepasse.bp,
        captcha.bp,
        espace.bp,
        mesdonnees.bp,
        services.bp,
        comptes.bp,
        suspension.bp,
        historique.bp,
        revue.bp,
        sante.bp,
    ):
        app.register_blueprint(blueprint)
    informations.register(app)
    session.register(app)
    oidc.register(app)
