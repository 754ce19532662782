"""`apexdir import FILE.csv` on a real slapd: shape, validation report, skip, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from apexdir.bulk.run import Options, import_file
from apexdir.runtime import Runtime
from apexdir.workflows.actors import AGENT
from tests.bulk.conftest import BANK, CSV_ROWS, OTHER, Tree, write_csv
from tests.helpers import Cli


def test_csv_import_creates_everything(app_cli: Cli, import_csv: Path, tree: Tree) -> None:
    """Structures, services, profiles, accounts with habilitations, memberOf, SPEC §3 ids."""
    report = app_cli.ok("import", str(import_csv))
    assert report["invalid"] == 0
    assert report["created"] == {
        "structures": 2,
        "services": 3,
        "applications": 1,
        "profiles": 2,
        "accounts": 5,
        "habilitations": 4,
    }
    accounts = tree.accounts()
    assert sorted(accounts) == [
        "cathy.noel-px",
        "marie.martin-px",
        "marie.martin2-px",
        "michel.de-la-bruyere-px",
        "sylvie.dalembert-px",
    ]
    layout = tree.layout
    consult = layout.profile_dn("ADELIE", "CONSULT")
    marie = accounts["marie.martin-px"]
    assert {d.lower() for d in marie.all("memberOf")} == {
        consult.lower(),
        layout.profile_dn("ADELIE", "SAISIE").lower(),
    }
    assert marie.get("apexAccountType") == "administrateur"
    assert marie.get("mobile") == "+33612345678"
    cathy = accounts["cathy.noel-px"]
    assert [d.lower() for d in cathy.all("apexDelegatedProfile")] == [consult.lower()]
    assert accounts["marie.martin2-px"].get("mail") == "marie.martin@laposte.example"
    shown = app_cli.ok("structure", "show", BANK)
    services = {s["name"]: s for s in shown["services"]}
    assert [a["identifier"] for a in services["Paie"]["collaborateurs"]] == ["sylvie.dalembert-px"]
    assert [a["identifier"] for a in shown["administrators"]] == ["marie.martin-px"]
    assert shown["administrators"][0]["habilitations"] == ["ADELIE/CONSULT", "ADELIE/SAISIE"]


def test_one_journal_entry_with_counts(app_cli: Cli, import_csv: Path) -> None:
    """One entry per run, counts only: no names, no mails."""
    app_cli.ok("import", str(import_csv))
    entries = [e for e in app_cli.ok("journal") if e["action"] == "bulk.import"]
    assert len(entries) == 1
    assert entries[0]["target"] == "import.csv"
    text = json.dumps(entries[0])
    assert "marie" not in text.lower() and "@" not in text


def test_bad_lines_are_all_reported_and_nothing_is_written(
    app_cli: Cli, tmp_path: Path, tree: Tree
) -> None:
    """Every bad line with its number and reason, dependents included; nothing written."""
    rows = list(CSV_ROWS)
    rows[1] = rows[1].replace("Organismes publics", "Boulangerie")  # line 3
    rows[7] = rows[7].replace("marie@bank.example", "marie-at-bank")  # line 9
    rows[8] = rows[8].replace("cathy@bank.example,,,", "cathy@bank.example,,Cathy.Noel,")  # 10
    rows[9] = rows[9].replace("collaborateur", "stagiaire")  # line 11
    rows.append(f"account,{BANK},,,,Paie,,,collaborateur,X,Y,y@x.example,,,NOPE/NONE,")  # 14
    path = write_csv(tmp_path / "bad.csv", rows)
    stderr = app_cli.fails(1, "import", str(path))
    lines = stderr.splitlines()
    assert lines[0].startswith("error:") and "8 invalid line(s)" in lines[0]
    assert "nothing written" in lines[0]
    reported = {int(line.split(":")[0].split()[1]): line for line in lines[1:]}
    assert sorted(reported) == [3, 6, 9, 10, 11, 12, 13, 14]
    assert "Catégorie « Boulangerie » inconnue" in reported[3]
    assert f"structure {OTHER} is invalid (line 3)" in reported[6]
    assert "Adresse mail invalide" in reported[9]
    assert "Cathy.Noel" in reported[10] and "SPEC §3" in reported[10]
    assert "stagiaire" in reported[11]
    assert "profile NOPE/NONE does not exist" in reported[14]
    assert tree.structures() == 0 and tree.accounts() == {}
    assert tree.count(tree.layout.applications_dn, "(objectClass=apexProfile)") == 0


def test_skip_invalid_loads_the_valid_lines(app_cli: Cli, tmp_path: Path, tree: Tree) -> None:
    """--skip-invalid: valid lines are loaded, bad ones listed in the report."""
    rows = list(CSV_ROWS)
    rows[9] = rows[9].replace("collaborateur", "stagiaire")  # line 11
    path = write_csv(tmp_path / "some-bad.csv", rows)
    report = app_cli.ok("import", "--skip-invalid", str(path))
    assert [p["line"] for p in report["problems"]] == [11]
    assert report["created"]["accounts"] == 4
    assert "sylvie.dalembert-px" not in tree.accounts()


def test_dry_run_writes_nothing(app_cli: Cli, import_csv: Path, tree: Tree) -> None:
    report = app_cli.ok("import", "--dry-run", str(import_csv))
    assert report["planned"]["accounts"] == 5
    assert tree.structures() == 0


def test_resume_half_then_whole_file(app_cli: Cli, tmp_path: Path, tree: Tree) -> None:
    """A re-run skips what exists: no duplicate account, the same identifiers."""
    half = write_csv(tmp_path / "half.csv", CSV_ROWS[:9])
    app_cli.ok("import", str(half))
    first = tree.accounts()
    assert sorted(first) == ["cathy.noel-px", "marie.martin-px"]
    report = app_cli.ok("import", str(write_csv(tmp_path / "all.csv", CSV_ROWS)))
    assert report["existing"] == {"structures": 2, "services": 3, "profiles": 2, "accounts": 2}
    assert report["created"]["accounts"] == 3
    assert sorted(tree.accounts()) == [
        "cathy.noel-px",
        "marie.martin-px",
        "marie.martin2-px",
        "michel.de-la-bruyere-px",
        "sylvie.dalembert-px",
    ]
    again = app_cli.ok("import", str(tmp_path / "all.csv"))
    assert again["created"] == {}
    assert again["existing"]["accounts"] == 5


class _InterruptAfter:
    """A progress sink that presses Ctrl-C after `limit` answers."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen = 0

    def start(self, phase: str, total: int) -> None:
        return None

    def advance(self, count: int = 1) -> None:
        self.seen += count
        if self.seen == self.limit:
            raise KeyboardInterrupt

    def stop(self) -> None:
        return None


def _many(n: int) -> list[str]:
    rows = [
        f"structure,{BANK},Banques,Banque Exemple,Paris,,,,,,,,,,,",
        f"service,{BANK},,,,Paie,,,,,,,,,,",
    ]
    rows += [
        f"account,{BANK},,,,Paie,,,collaborateur,Durand,Jean,jean{i}@bank.example,,,,"
        for i in range(n)
    ]
    return rows


def test_interrupted_run_resumes(rt: Runtime, tmp_path: Path, tree: Tree) -> None:
    """Interrupted after some writes: what was sent is answered and journaled; a re-run
    finishes without duplicates."""
    path = write_csv(tmp_path / "many.csv", _many(60))
    options = Options(progress=_InterruptAfter(25), window=10)
    report = import_file(rt, AGENT, path, options=options)
    assert report["interrupted"] is True
    written = len(tree.accounts())
    assert 0 < written < 60
    assert rt.journal.entries()[-1]["details"]["interrupted"] is True
    again = import_file(rt, AGENT, path)
    assert again["interrupted"] is False
    assert again["existing"]["accounts"] == written
    accounts = tree.accounts()
    assert len(accounts) == 60
    assert {str(a.get("mail")) for a in accounts.values()} == {
        f"jean{i}@bank.example" for i in range(60)
    }
    assert "jean.durand60-px" in accounts and "jean.durand61-px" not in accounts


def test_only_agents_import(app_cli: Cli, import_csv: Path) -> None:
    app_cli.ok("import", str(import_csv))
    stderr = app_cli.fails(4, "import", str(import_csv), as_="marie.martin-px")
    assert "agents" in stderr


@pytest.mark.parametrize(
    ("header", "message"),
    [("kind,siret,nme", "unknown column(s) nme"), ("", "empty file")],
)
def test_unreadable_files(app_cli: Cli, tmp_path: Path, header: str, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(header + "\n" if header else "", encoding="utf-8")
    assert message in app_cli.fails(1, "import", str(path))


def test_semicolons_and_latin1(app_cli: Cli, tmp_path: Path, tree: Tree) -> None:
    """French spreadsheets: `;` and Windows-1252, with --encoding."""
    text = "kind;siret;category;name\nstructure;" + BANK + ";Banques;Société Générale\n"
    path = tmp_path / "fr.csv"
    path.write_bytes(text.encode("cp1252"))
    assert "--encoding" in app_cli.fails(1, "import", str(path))
    report: Any = app_cli.ok("import", "--encoding", "cp1252", str(path))
    assert report["created"]["structures"] == 1
    shown = app_cli.ok("structure", "show", BANK)
    assert shown["name"] == "Société Générale"


def test_import_never_reissues_a_retired_identifier(
    app_cli: Cli, rt: Runtime, tmp_path: Path, tree: Tree
) -> None:
    """A tombstone's identifier is skipped when generating and refused when given (SPEC §10)."""
    from apexdir.directory.repository import Repository

    repo = Repository(rt.directory, rt.layout)
    repo.retire("marie.martin-px")
    repo.retire("michel.de-la-bruyere-px")
    path = write_csv(tmp_path / "retired.csv", CSV_ROWS)
    refused = app_cli.run("import", str(path))
    assert refused.exit_code == 1
    assert "michel.de-la-bruyere-px belonged to a deleted account" in refused.output
    report = app_cli.ok("import", str(path), "--skip-invalid")
    assert report["invalid"] == 1
    assert {"marie.martin2-px", "marie.martin3-px"} <= set(tree.accounts())
    assert "marie.martin-px" not in tree.accounts()
