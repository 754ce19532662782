"""« Historique » (issue 21 item 8): each account type's reach, filters, pages, the CSV,
and the source address and user agent of portal actions."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from apexdir.directory.events import EventStore
from apexdir.logs import request_source
from apexdir.models import Event
from apexdir.rules.history import PARIS, new_event_id
from apexdir.runtime import Runtime
from tests.portal import test_gestion
from tests.portal.conftest import text_of
from tests.portal.test_gestion import APP, World

world = test_gestion.world
login = test_gestion.login
UA = "Mozilla/5.0 (X11; Linux x86_64) Test/1.0"


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(data.decode("utf-8-sig").splitlines(), delimiter=";"))


def rows(html: str) -> list[str]:
    return [text_of(r) for r in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)[1:]]


def test_menu_and_reach_per_account_type(world: World, login: Any) -> None:
    """Administrateur: the structure; responsable: his service; collaborateur: 403."""
    admin = login(world.admin)
    page = admin.get("/structure/historique")
    assert page.status_code == 200
    assert 'href="/structure/historique"' in page.text and "Historique" in page.text
    text = text_of(page.text)
    assert "Profil applicatif attribué : FICOBA/CONSULTATION" in text
    assert "Agent DGFiP" in text and world.paie in text
    assert "Service « Paie »" in text  # created by the agent

    resp = login(world.resp).get("/structure/historique")
    assert resp.status_code == 200
    lines = rows(resp.text)
    assert lines and all(world.paie not in line for line in lines)
    assert any(world.collab in line for line in lines)
    assert not any("La structure" in line for line in lines)

    collab = login(world.collab)
    assert 'href="/structure/historique"' not in collab.get("/accueil").text
    assert collab.get("/structure/historique").status_code == 403
    assert collab.get("/structure/historique.csv").status_code == 403


def test_portal_actions_record_source_address_and_user_agent(
    world: World, login: Any, rt: Runtime
) -> None:
    """A grant made on the portal carries the client's address and browser, in the node's
    journal and in the history (its CSV)."""
    admin = login(world.admin)
    admin.client.environ_base["HTTP_USER_AGENT"] = UA
    admin.get(f"/comptes/{world.resp}")
    profile = {"habiliter-profil": f"{APP}/CONSULTATION"}
    done = admin.post(f"/comptes/{world.resp}/habiliter", profile)
    assert done.status_code in (200, 302)
    row = [r for r in rt.journal.entries() if r["action"] == "grant"][-1]
    assert row["target"] == world.resp
    assert row["details"]["source"] == {"address": "127.0.0.1", "user_agent": UA}
    assert request_source.get() is None  # the request over, the thread journals as itself
    download = admin.get("/structure/historique.csv", query_string={"action": "grant"})
    label = "Profil applicatif attribué : FICOBA/CONSULTATION"
    assert table(download.data)[1][1:] == [world.admin, label, world.resp, "127.0.0.1", UA]


def test_filters(world: World, login: Any) -> None:
    """Account (who acted or whom it concerned), action, period; a wrong period is said."""
    admin = login(world.admin)
    only = rows(admin.get("/structure/historique", query_string={"compte": world.paie}).text)
    assert only and all(world.paie in line for line in only)
    grants = rows(admin.get("/structure/historique", query_string={"action": "grant"}).text)
    assert len(grants) == 2 and all("Profil applicatif attribué" in g for g in grants)
    future = admin.get("/structure/historique", query_string={"du": "2999-01-01"})
    assert rows(future.text) == [] and "Aucune action ne correspond à ces filtres" in future.text
    # The days are Paris days (around midnight there, UTC's date is the day before), and the
    # world may have been made just before midnight: yesterday and today.
    today = datetime.now(PARIS).date()
    period = {"du": (today - timedelta(days=1)).isoformat(), "au": today.isoformat()}
    assert rows(admin.get("/structure/historique", query_string=period).text)
    backwards = {"du": "2026-02-01", "au": "2026-01-01"}
    wrong = admin.get("/structure/historique", query_string=backwards)
    assert wrong.status_code == 200
    assert "La date de début doit précéder la date de fin." in text_of(wrong.text)
    bad = admin.get("/structure/historique", query_string={"action": "nope", "du": "hier"})
    assert bad.status_code == 200 and "Veuillez corriger" in text_of(bad.text)


def test_csv_download(world: World, login: Any, rt: Runtime) -> None:
    """UTF-8 with a BOM for Excel, semicolons, an attachment; a formula is defused."""
    EventStore(rt.directory, rt.layout).add(Event(
        id=new_event_id(datetime.now(UTC)), at=datetime.now(UTC), action="service.create",
        structure=world.siret, actor="=HYPERLINK(\"http://x\")", target=f"{world.siret}/X",
    ))  # fmt: skip
    answer = login(world.admin).get("/structure/historique.csv")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"].startswith(
        f'attachment; filename="historique-{world.siret}-'
    )
    assert answer.data.startswith(b"\xef\xbb\xbf")
    assert answer.data.decode("utf-8-sig").startswith(
        "Date;Qui;Action;Concerne;Adresse source;Navigateur\r\n"
    )
    lines = table(answer.data)
    assert lines[1][1] == '\'=HYPERLINK("http://x")'  # text, not a formula
    assert lines[-1][2] == "Structure créée"


def test_pages_by_cursor(world: World, login: Any, rt: Runtime) -> None:
    """Fifty events a page, newest first; « Plus anciennes » then « Plus récentes »."""
    store = EventStore(rt.directory, rt.layout)
    start = datetime.now(UTC) - timedelta(days=30)
    for n in range(70):
        moment = start + timedelta(hours=7 * n)
        event = Event(id=new_event_id(moment), at=moment, action="account.resend-identifier",
                      structure=world.siret, actor=world.admin, target=f"t{n:02d}-px")  # fmt: skip
        store.add(event)
    admin = login(world.admin)
    query = {"action": "account.resend-identifier"}
    first = admin.get("/structure/historique", query_string=query)
    got = rows(first.text)
    assert len(got) == 50 and "t69-px" in got[0] and "t20-px" in got[-1]
    older = re.search(r'href="(/structure/historique\?[^"]*avant=[^"]+)"', first.text)
    assert older and "Plus récentes</a>" in first.text  # disabled on the first page
    second = admin.get(older.group(1).replace("&amp;", "&"))
    got2 = rows(second.text)
    assert len(got2) == 20 and "t19-px" in got2[0] and "t00-px" in got2[-1]
    assert "avant=" not in second.text
    newer = re.search(r'href="(/structure/historique\?[^"]*apres=[^"]+)"', second.text)
    assert newer
    back = rows(admin.get(newer.group(1).replace("&amp;", "&")).text)
    assert back == got
    assert admin.get("/structure/historique?avant=garbage").status_code == 200
