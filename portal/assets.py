"""The vendored DSFR files (scripts/vendor_dsfr.sh) exposed to the templates, with their
Subresource Integrity hashes: nothing is fetched from elsewhere at run time."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, url_for
from markupsafe import Markup, escape

STATIC = Path(__file__).parent / "static"
CSS = ("dsfr/dsfr.min.css", "dsfr/utility/icons/icons.min.css", "portal.css")


@cache
def manifest() -> dict[str, Any]:
    try:
        return json.loads((STATIC / "dsfr" / "manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {"files": {}}


def _integrity(path: str) -> str:
    sri = manifest().get("files", {}).get(path.removeprefix("dsfr/"))
    return f' integrity="{escape(sri)}"' if sri else ""


def stylesheets() -> Markup:
    links = [
        f'<link rel="stylesheet" href="{url_for("static", filename=p)}"{_integrity(p)}>'
        for p in CSS
        if (STATIC / p).exists()
    ]
    return Markup("\n".join(links))


def scripts() -> Markup:
    module = "dsfr/dsfr.module.min.js"
    legacy = "dsfr/dsfr.nomodule.min.js"
    tags = []
    if (STATIC / module).exists():
        tags.append(
            f'<script type="module" src="{url_for("static", filename=module)}"'
            f"{_integrity(module)}></script>"
        )
        tags.append(
            f'<script nomodule src="{url_for("static", filename=legacy)}"'
            f"{_integrity(legacy)}></script>"
        )
    tags.append(f'<script src="{url_for("static", filename="portal.js")}" defer></script>')
    return Markup("\n".join(tags))


def register(app: Flask) -> None:
    app.jinja_env.globals.update(dsfr_stylesheets=stylesheets, dsfr_scripts=scripts)
    from apexdir.rules.contact import display_mobile

    app.jinja_env.filters["telephone"] = display_mobile
    app.jinja_env.globals["dsfr_version"] = manifest().get("version", "")
