"""Values slapd would refuse are refused by the validation: the file is refused whole.

Before, a non-ASCII mail (slapd stores `mail` as an IA5String) or an LDIF attribute passed
on as it is (a date that is not a GeneralizedTime, two values of a single-valued attribute)
passed every check and the dry run, then failed at slapd while the other lines were written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from apexdir.directory.server import SlapdInstance
from tests.bulk.conftest import BANK, CSV_ROWS, Tree, write_csv
from tests.bulk.test_migrate_v1 import V1_HEADER
from tests.helpers import Cli

NON_ASCII_MAILS = ("zoé@bank.example", "paul@banque-époque.example")


@pytest.mark.parametrize("dry_run", [False, True])
def test_csv_with_a_non_ascii_mail_writes_nothing(
    app_cli: Cli, tmp_path: Path, tree: Tree, dry_run: bool
) -> None:
    """Both lines are reported by the validation (dry run included); nothing is written."""
    rows = [
        *CSV_ROWS,
        f"account,{BANK},,,,Paie,,,collaborateur,Zoé,Zoé,{NON_ASCII_MAILS[0]},,,,",  # 14
        f"account,{BANK},,,,Paie,,,collaborateur,Paul,Paul,{NON_ASCII_MAILS[1]},,,,",  # 15
    ]
    path = write_csv(tmp_path / "accents.csv", rows)
    argv = ["import", *(["--dry-run"] if dry_run else []), str(path)]
    lines = app_cli.fails(1, *argv).splitlines()
    assert "2 invalid line(s)" in lines[0]
    assert lines[1].strip().startswith("line 14: Adresse mail invalide") and "ASCII" in lines[1]
    assert lines[2].strip().startswith("line 15: Adresse mail invalide") and "xn--" in lines[2]
    assert tree.structures() == 0 and tree.accounts() == {}


def test_v1_migration_with_a_non_ascii_mail_writes_nothing(
    app_cli: Cli, tmp_path: Path, tree: Tree
) -> None:
    rows = [
        f"N1;marie.martin-px;Martin;Marie;marie@bank.example;;{BANK};Banque Exemple;Banques;;;",
        f"N1;CNOEL;Noël;Cathy;cathy.noël@bank.example;;{BANK};Banque Exemple;Banques;;;",  # 3
    ]
    path = write_csv(tmp_path / "v1.csv", rows, V1_HEADER)
    lines = app_cli.fails(1, "migrate-v1", str(path)).splitlines()
    assert lines[1].strip().startswith("line 3: Adresse mail invalide")
    assert tree.structures() == 0 and tree.accounts() == {}
    assert app_cli.mails() == []


LDIF = """dn: apexSiret={bank},ou=structures,{base}
objectClass: apexStructure
apexSiret: {bank}
apexCategory: Banques
o: Banque Exemple

dn: apexServiceId={long_id},apexSiret={bank},ou=structures,{base}
objectClass: apexService
apexServiceId: {long_id}
cn: Trop long

dn: uid=date.bad-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: date.bad-px
sn: Bad
givenName: Date
mail: date@bank.example
apexAccountType: administrateur
apexStructureRef: apexSiret={bank},ou=structures,{base}
apexRequestedAt: hier

dn: uid=two.names-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: two.names-px
sn: Names
givenName: Two
mail: two@bank.example
apexAccountType: administrateur
apexStructureRef: apexSiret={bank},ou=structures,{base}
displayName: Two
displayName: Names

dn: uid=empty.desc-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: empty.desc-px
sn: Desc
givenName: Empty
mail: empty@bank.example
apexAccountType: administrateur
apexStructureRef: apexSiret={bank},ou=structures,{base}
description:

dn: uid={long_uid},ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: {long_uid}
sn: Long
givenName: Uid
mail: long@bank.example
apexAccountType: administrateur
apexStructureRef: apexSiret={bank},ou=structures,{base}

dn: uid=ok.account-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: ok.account-px
sn: Account
givenName: Ok
mail: ok@bank.example
apexAccountType: administrateur
apexStructureRef: apexSiret={bank},ou=structures,{base}
apexRequestedAt: 20240101120000Z
description: migrated from the old directory
"""


def test_ldif_values_outside_the_schema_are_reported(
    app_cli: Cli, slapd: SlapdInstance, tmp_path: Path, tree: Tree
) -> None:
    """apexServiceId {64}, GeneralizedTime, SINGLE-VALUE, empty DirectoryString, uid {256}."""
    path = tmp_path / "schema.ldif"
    long_uid = "a" * 150 + "." + "b" * 150 + "-px"
    text = LDIF.format(bank=BANK, base=slapd.base_dn, long_id="s" * 65, long_uid=long_uid)
    path.write_text(text, encoding="utf-8")
    lines = app_cli.fails(1, "import", "--dry-run", str(path)).splitlines()
    assert "5 invalid line(s)" in lines[0]
    reported = [line.strip() for line in lines[1:]]
    assert reported[0].startswith("line 7: apexServiceId : 64 caractères au plus (65)")
    assert reported[1].startswith("line 12: apexRequestedAt : « hier » n'est pas une date")
    assert reported[2].startswith("line 23: displayName : une seule valeur permise (2")
    assert reported[3].startswith("line 35: description : valeur vide")
    # The 305-character identifier is cut in the report, like any long value.
    assert reported[4].startswith("line 46: identifier 'aaaa") and "does not follow" in reported[4]
    assert tree.structures() == 0
    report = app_cli.ok("import", "--skip-invalid", str(path))
    assert report["created"]["accounts"] == 1
    assert list(tree.accounts()) == ["ok.account-px"]


def test_csv_profile_creating_its_application_checks_the_name(
    app_cli: Cli, tmp_path: Path, tree: Tree
) -> None:
    """The application a profile line creates gets the checks of `app add` (cn: 1–128)."""
    rows = [f"profile,,,{'A' * 129},,,ADELIE,CONSULT,,,,,,,,"]
    lines = app_cli.fails(1, "import", str(write_csv(tmp_path / "p.csv", rows))).splitlines()
    assert lines[1].strip() == "line 2: application name: 1 to 128 characters"
    assert tree.count(tree.layout.applications_dn, "(objectClass=apexApplication)") == 0
