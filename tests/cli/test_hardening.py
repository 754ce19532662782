"""Arguments the CLI used to crash on or misreport, values slapd would refuse, the refusal
reason's rules: each ends with the documented exit code, one escaped `error:` line, and
nothing written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from apexdir.cli.main import cli
from apexdir.directory.repository import Repository
from apexdir.directory.server import SlapdInstance
from apexdir.errors import Invalid, NotFound
from apexdir.runtime import Runtime
from tests.cli import flows
from tests.helpers import PASSWORD, SIRET, Cli

HUGE = "a" * 10_000


def _raw(app_cli: Cli, *args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    """Exit code, stdout, stderr, without the helpers' --json and assertions."""
    result = CliRunner().invoke(cli, ["--config", str(app_cli.config), *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result
    return result.exit_code, result.stdout, result.stderr


def _journal(app_cli: Cli) -> list[dict[str, object]]:
    return list(app_cli.ok("journal"))


@pytest.mark.parametrize(
    "argv",
    [
        ["account", "show", ""],
        ["account", "validate", ""],
        ["account", "refuse", "", "--reason", "Doublon"],
        ["account", "delete", ""],
        ["account", "transfer", "", "--service", flows.SERVICE],
        ["account", "resend-identifier", ""],
        ["grant", "", flows.APP, flows.READ],
        ["me", "update", "", "--last-name", "Martin"],
        ["account", "show", HUGE],
        ["account", "delete", HUGE],
        ["account", "validate", HUGE],
        ["grant", HUGE, flows.APP, flows.READ],
    ],
    ids=lambda argv: " ".join(a[:12] for a in argv),
)
def test_empty_or_huge_identifiers_are_not_found(app_cli: Cli, argv: list[str]) -> None:
    """No IndexError, no « invalid DN »: an identifier no entry can have is not found (3)."""
    flows.catalogue(app_cli)
    stderr = app_cli.fails(3, *argv)
    assert len(stderr.splitlines()) == 1 and len(stderr) < 400


def test_empty_as_is_a_usage_error(app_cli: Cli) -> None:
    """`--as ''` used to act as a DGFiP agent: now exit 2, nothing done."""
    flows.structure(app_cli)
    for acting in ("", "   "):
        code, out, err = _raw(app_cli, "--as", acting, "service", "create", SIRET, "Nouveau")
        assert (code, out) == (2, "")
        assert err.startswith("error:") and "--as" in err and len(err.splitlines()) == 1
    assert [s["name"] for s in app_cli.ok("service", "list", SIRET)] == []


@pytest.mark.parametrize(
    "argv",
    [
        ["password", "forgot", "\udcff\udcfe"],
        ["account", "show", "marie\udce9"],
        ["account", "complete", "abc\udcff", "--last-name", "X", "--first-name", "Y", "--yes"],
        ["service", "create", SIRET, "Compta\udce9"],
        ["login", "verify", "x\udcff", "123456"],
    ],
)
def test_arguments_that_are_not_utf8_are_usage_errors(app_cli: Cli, argv: list[str]) -> None:
    """Bytes that are not UTF-8 (Python hands them over as lone surrogates): exit 2, and
    the bytes shown escaped, instead of a UnicodeEncodeError or a misleading message."""
    flows.structure(app_cli)
    code, out, err = _raw(app_cli, *argv, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert (code, out) == (2, "")
    assert err.startswith("error: L'argument « ") and "n'est pas du texte UTF-8 valide" in err
    assert "\\xff" in err or "\\xe9" in err
    assert "\udcff" not in err and len(err.splitlines()) == 1
    assert app_cli.ok("service", "list", SIRET) == []


def test_stdin_that_is_not_utf8_is_a_usage_error(app_cli: Cli) -> None:
    flows.structure(app_cli)
    request = flows.invite(app_cli, SIRET, "administrateur", "a@example.org")
    link = app_cli.link_for("a@example.org")
    form = ["account", "complete", link, "--last-name", "Roux", "--first-name", "Léa", "--yes"]
    code, out, err = _raw(app_cli, *form, input=b"Str0ng-Passw\xf6rd!\nStr0ng-Passw\xf6rd!\n")
    assert (code, out) == (2, "")
    assert err == "error: L'entrée standard n'est pas du texte UTF-8 valide.\n"
    code, _, err = _raw(app_cli, "login", "x", input=b"\xff\xfe\n")
    assert code == 2 and "L'entrée standard" in err
    # The link is still usable: nothing was submitted.
    app_cli.complete("a@example.org", "Léa", "Roux")
    assert app_cli.ok("account", "validate", request)["identifier"] == "lea.roux-px"


def test_error_lines_escape_control_characters_and_cut_long_values(app_cli: Cli) -> None:
    """A carriage return, an escape sequence or a forged second line stay on one line, as
    escapes; a 10,000-character value is cut."""
    code, _, err = _raw(app_cli, "account", "show", "x\r\nerror: forged \x1b[31m")
    assert code == 3
    assert err == "error: compte x\\r\\nerror: forged \\x1b[31m introuvable\n"
    code, _, err = _raw(app_cli, "account", "show", HUGE)
    assert code == 3 and len(err) < 200 and err.endswith("aaaaaaaaaa introuvable\n")
    # A long line of short words is cut in the middle, its end kept.
    code, _, err = _raw(app_cli, "--as", "x " * 3000, "journal")
    assert code == 4 and len(err) < 1100
    assert err.rstrip().endswith("introuvable : impossible d'agir en son nom.")
    # Usage errors from click go through the same line.
    code, _, err = _raw(app_cli, "account", "invite", "--type", "chef\r\x1b")
    assert code == 2 and "chef\\r\\x1b" in err and "\r" not in err and "\x1b" not in err


def test_library_reads_of_undecodable_or_overlong_names_find_nothing(rt: Runtime) -> None:
    """Below the CLI (the portal, scripts): lookups by a name no entry can have are not
    found, a write of undecodable text is refused as invalid, never a raw pyasn1 error."""
    repo = Repository(rt.directory, rt.layout)
    for identifier in ("", "x\udcff", HUGE):
        with pytest.raises(NotFound):
            repo.account(identifier)
    assert rt.directory.search(rt.layout.people_dn, "(uid=\udcff)") == []
    attrs = {"objectClass": ["apexService"], "apexServiceId": "x", "cn": "Compta\udce9"}
    with pytest.raises(Invalid, match="not valid UTF-8"):
        rt.directory.add(f"apexServiceId=x,{rt.layout.structures_dn}", attrs)


def test_outbox_message_id_beyond_sqlite_is_not_found(app_cli: Cli) -> None:
    code, _, err = _raw(app_cli, "outbox", "retry", "9" * 30)
    assert code == 3 and err.startswith("error: no message")


# ---------------------------------------------------------------------- values slapd refuses
@pytest.mark.parametrize("mail", ["zoé@example.org", "a@exämple.org", "ü@ü.de"])
def test_non_ascii_mail_is_refused_before_anything_is_written(
    app_cli: Cli, slapd: SlapdInstance, mail: str
) -> None:
    """`mail` is an IA5String: invite and me update refuse what slapd would (exit 1)."""
    flows.catalogue(app_cli)
    flows.structure(app_cli)
    adm = flows.account(app_cli, SIRET, "administrateur", "adm@example.org", "Marie", "Martin")
    before = len(_journal(app_cli))
    invite = ["account", "invite", "--structure", SIRET, "--type", "administrateur"]
    assert "ASCII" in app_cli.fails(1, *invite, "--mail", mail)
    assert "ASCII" in app_cli.fails(1, "me", "update", adm, "--mail", mail, as_=adm)
    assert len(_journal(app_cli)) == before
    assert app_cli.ok("account", "pending") == []
    entry = flows.entry(slapd, adm)
    assert entry is not None and entry.get("mail") == "adm@example.org"


def test_street_longer_than_the_schema_is_refused(app_cli: Cli) -> None:
    """street is a DirectoryString{128} in core.schema: 129 characters are refused."""
    create = ["structure", "create", "--siret", SIRET, "--category", "Banques", "--name", "B"]
    refused = app_cli.fails(1, *create, "--street", "r" * 129)
    assert refused == "error: Voie : 128 caractères au plus (129 saisis).\n"
    app_cli.ok(*create, "--street", "r" * 128)


def test_siret_made_of_zeros_is_refused(app_cli: Cli) -> None:
    create = ["structure", "create", "--category", "Banques", "--name", "Zéro"]
    for siret in ("00000000000000", "000 000 000 00018"):
        assert "SIREN composé de zéros" in app_cli.fails(1, *create, "--siret", siret)
    assert app_cli.ok("structure", "list") == []


# ---------------------------------------------------------------------- the refusal reason
@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("Voir https://dgfip-securite.example/compte", "lien"),
        ("Rendez-vous sur http://x", "lien"),
        ("Consultez www.impots-remboursement.fr", "lien"),
        ("Écrivez à support@dgfip-aide.fr", "lien"),
        ("Connectez-vous sur impots-gouv.com", "lien"),
        ("Connectez-vous sur evil[.]com/connexion", "lien"),
        ("Connectez-vous sur evil\u00b7com", "lien"),
        ("Appelez le 01 89 00 00 00", "numéro de téléphone"),
        ("Refus\u202emoc.elpmaxe", "caractère de contrôle"),
        ("Refus\x1b[2J", "caractère de contrôle"),
        ("x" * 501, "500 au plus"),
        ("<b>Refus</b>", "sans balise"),
        ("   ", "obligatoire"),
    ],
)
def test_refusal_reason_rules(app_cli: Cli, reason: str, why: str) -> None:
    """Plain text, at most 500 characters, no link, no control character: exit 1 before
    anything is written (the request stays open, no mail)."""
    flows.structure(app_cli)
    request = flows.invite(app_cli, SIRET, "administrateur", "a@example.org")
    assert why in app_cli.fails(1, "account", "refuse", request, "--reason", reason)
    [pending] = app_cli.ok("account", "pending")
    assert pending["status"] == "invited"
    assert flows.mails_to(app_cli, "a@example.org", "refusal") == []


def test_refusal_mail_quotes_the_validator(app_cli: Cli) -> None:
    """Line breaks fold into spaces; the mail quotes the reason as the validator's."""
    flows.structure(app_cli)
    request = flows.invite(app_cli, SIRET, "administrateur", "a@example.org")
    reason = "Structure inconnue :\nmerci de contacter\tvotre administrateur (R&D, 1.5 jour)."
    refused = app_cli.ok("account", "refuse", request, "--reason", reason)
    folded = "Structure inconnue : merci de contacter votre administrateur (R&D, 1.5 jour)."
    assert refused["reason"] == folded
    body = flows.mails_to(app_cli, "a@example.org", "refusal")[-1]["body"]
    assert f'Motif indiqué par le valideur : "{folded}"' in body


def test_the_command_lines_own_refusals_are_french(app_cli: Cli) -> None:
    """The CLI's usage errors come from the catalogue too, the option named in it."""
    assert app_cli.fails(2, "--as", " ", "journal") == (
        "error: --as : un identifiant est obligatoire.\n"
    )
    assert app_cli.fails(1, "journal", "--since", "hier") == (
        "error: --since « hier » : une date ISO 8601 est attendue (par exemple 2026-12-01 ou "
        "2026-12-01T09:30).\n"
    )
    assert app_cli.fails(2, "outbox", "retry") == (
        "error: Indiquez un numéro de message ou --held.\n"
    )
