"""`apexdir import FILE.ldif`: what ldapadd would take, loaded pipelined by apexdir."""

from __future__ import annotations

from pathlib import Path

from apexdir.directory.server import SlapdInstance
from benchmarks.dataset import generate
from tests.bulk.conftest import BANK, Tree, whoami
from tests.helpers import Cli


def test_ldif_import_of_a_generated_data_set(
    app_cli: Cli, slapd: SlapdInstance, tmp_path: Path, tree: Tree
) -> None:
    """Entries, memberOf from the profiles' members, hashed passwords that bind."""
    data = generate(slapd.layout, 40)
    path = tmp_path / "data.ldif"
    data.write(str(path))
    report = app_cli.ok("import", str(path))
    assert report["format"] == "ldif"
    assert report["created"] == {
        "structures": data.structures,
        "services": data.services,
        "applications": 5,
        "profiles": 20,
        "accounts": 40,
        "habilitations": data.habilitations,
    }
    accounts = tree.accounts()
    assert len(accounts) == 40
    with_profile = [a for a in accounts.values() if a.all("memberOf")]
    assert len(with_profile) == data.habilitations == 20
    uid = next(iter(data.password_of))
    password = data.passwords[data.password_of[uid]]
    assert whoami(slapd.uri, slapd.layout.account_dn(uid), password) == 0
    # slapd's ppolicy set pwdChangedTime: the password's age counts from the import.
    assert all(a.get("pwdChangedTime") for a in accounts.values())
    again = app_cli.ok("import", str(path))
    assert again["created"] == {} and again["existing"]["accounts"] == 40


LDIF = """version: 1

# a comment
dn: apexSiret={bank},ou=structures,{base}
objectClass: apexStructure
apexSiret: {bank}
apexCategory: Banques
o: Banque Exemple

dn: uid=marie.martin-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: marie.martin-px
sn: Martin
givenName: Marie
cn: Marie Martin
mail: marie@bank.example
userPassword: Secret-Passw0rd!
apexAccountType: administrateur
apexStructureRef: apexSiret={bank},ou=structures,{base}

dn: uid=paul.durand-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: paul.durand-px
sn: Durand
givenName: Paul
mail: paul@bank.example
apexAccountType: administrateur
apexStructureRef: apexSiret={bank},ou=structures,{base}
telephoneNumber: 01 02 03 04 05

dn: cn=someone,ou=elsewhere,{base}
objectClass: person
cn: someone
sn: one

dn: uid=ok.account-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: ok.account-px
sn: Account
givenName: Ok
mail: ok@bank.example
apexAccountType: administrateur
apexStructureRef: apexSiret={bank},ou=structures,{base}
"""


def test_ldif_errors_name_the_dn_line(
    app_cli: Cli, slapd: SlapdInstance, tmp_path: Path, tree: Tree
) -> None:
    """Cleartext password, unknown attribute, foreign entry: reported at their `dn:` line."""
    path = tmp_path / "bad.ldif"
    path.write_text(LDIF.format(bank=BANK, base=slapd.base_dn), encoding="utf-8")
    lines = app_cli.fails(1, "import", str(path)).splitlines()
    assert "3 invalid line(s) out of 5 record(s)" in lines[0]
    assert lines[1].strip().startswith("line 10: userPassword must be hashed")
    assert lines[2].strip().startswith("line 22: attribute(s) not imported here: telephonenumber")
    assert lines[3].strip().startswith("line 33: cn=someone,ou=elsewhere")
    assert tree.structures() == 0
    report = app_cli.ok("import", "--skip-invalid", str(path))
    assert report["created"]["accounts"] == 1
    assert list(tree.accounts()) == ["ok.account-px"]
