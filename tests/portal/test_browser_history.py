"""« Historique » in a real browser at 1,280 and 375 px (issue 21 item 8): reached from the
side menu, filtered, nothing wider than the window, and no axe-core WCAG 2.1 A/AA
violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Cli
from tests.portal import test_browser as journeys
from tests.portal.conftest import CHROMIUM
from tests.portal.test_browser import axe, sign_in, submit
from tests.portal.test_browser_widths import WIDTHS, at_width, fits, on_screen

app_cli = journeys.app_cli
live = journeys.live
new_page = journeys.new_page
page = journeys.page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium")


def test_history_page(page: Any, live: str, app_cli: Cli, structure: str) -> None:
    """The administrateur opens « Historique » from his home page, filters by action, and
    reads the result, at each width."""
    admin = app_cli.create_account(
        structure, "administrateur", "alice.admin@example.org", "Alice", "Admin"
    )
    app_cli.invite(structure, "collaborateur", "louise.durand@example.org", "Comptabilité",
                   as_=admin)  # fmt: skip
    sign_in(page, live, app_cli, admin, "alice.admin@example.org", landing=None)
    for size in WIDTHS:
        with at_width(page, size):
            page.goto("/accueil")
            _history_page(page, size)


def _history_page(page: Any, size: dict[str, int]) -> None:
    if size["width"] < 992:  # the side menu folds behind its button on small screens
        page.get_by_role("button", name="Menu de mon espace").click()
    page.get_by_role("link", name="Historique").click()
    page.wait_for_url("**/structure/historique")
    on_screen(page, page.get_by_role("heading", name="Historique", exact=True))
    fits(page)
    axe(page)
    page.select_option("#action", "account.invite")
    submit(page, "Filtrer")
    page.wait_for_url("**/structure/historique?**")
    table = page.get_by_role("table")
    assert "louise.durand@example.org" in table.inner_text()
    assert "Invitation à créer un compte" in table.inner_text()
    on_screen(page, page.get_by_role("link", name="Télécharger l'historique (CSV)"))
    fits(page)
    axe(page)
