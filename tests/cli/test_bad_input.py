"""Bad input: exit 1 (a rule) or 3 (not found), one `error:` line, and nothing written."""

from __future__ import annotations

from apexdir.directory.server import SlapdInstance
from tests.cli import flows
from tests.cli.flows import APP, READ, SERVICE, SERVICE2
from tests.helpers import PASSWORD, SIRET, Cli

BAD_CHECKSUM = "73282932000075"
UNKNOWN_SIRET = "55208131766522"  # valid, but no such structure
BAD_SIRETS = (BAD_CHECKSUM, "7328293200007A", "123", "")
BAD_MAILS = ("pas-une-adresse", "a@b", "a@@example.org", "a b@example.org", "")
BAD_MOBILES = ("01 23 45 67 89", "06 12", "abc", "+33 1 23 45 67 89")


def _cases(w: flows.World, link: str) -> list[tuple[int, list[str], str | None, str | None]]:
    """(exit code, argv, --as, stdin)."""
    adm = w.adm_a
    out: list[tuple[int, list[str], str | None, str | None]] = []

    def add(code: int, *argv: str, as_: str | None = None, stdin: str | None = None) -> None:
        out.append((code, list(argv), as_, stdin))

    for siret in BAD_SIRETS:
        add(1, "structure", "create", "--siret", siret, "--category", "Banques", "--name", "X")
        add(1, "structure", "show", siret)
        add(1, "structure", "update", siret, "--city", "Lyon")
        add(1, "service", "create", siret, "Nouveau")
        add(1, "service", "rename", siret, SERVICE, "Nouveau")
        add(1, "service", "merge", siret, SERVICE, SERVICE2)
        add(1, "service", "delete", siret, SERVICE)
        add(
            1,
            "account",
            "invite",
            "--structure",
            siret,
            "--type",
            "administrateur",
            "--mail",
            "n@example.org",
        )
        add(1, "account", "list", "--structure", siret)
        add(1, "account", "pending", "--structure", siret)
    for category in ("Boulangers", "", "Banque"):
        add(
            1,
            "structure",
            "create",
            "--siret",
            UNKNOWN_SIRET,
            "--category",
            category,
            "--name",
            "X",
        )
        add(1, "structure", "update", SIRET, "--category", category)
    add(1, "structure", "create", "--siret", UNKNOWN_SIRET, "--category", "Banques", "--name", " ")
    add(1, "structure", "create", "--siret", SIRET, "--category", "Banques", "--name", "Doublon")
    add(
        1,
        "structure",
        "create",
        "--siret",
        UNKNOWN_SIRET,
        "--category",
        "Banques",
        "--name",
        "X",
        "--postal-code",
        "1" * 17,
    )
    add(3, "structure", "show", UNKNOWN_SIRET)
    add(3, "structure", "update", UNKNOWN_SIRET, "--city", "Lyon")
    add(1, "structure", "update", SIRET, "--name", "")
    # Services
    add(3, "service", "create", UNKNOWN_SIRET, "Nouveau")
    for name in ("", "   ", "a\x01b", "x" * 129):
        add(1, "service", "create", SIRET, name, as_=adm)
        add(1, "service", "rename", SIRET, SERVICE, name, as_=adm)
    add(1, "service", "create", SIRET, SERVICE.upper(), as_=adm)
    add(1, "service", "rename", SIRET, SERVICE, SERVICE2, as_=adm)
    add(3, "service", "rename", SIRET, "Absent", "Nouveau", as_=adm)
    add(3, "service", "merge", SIRET, "Absent", SERVICE2, as_=adm)
    add(3, "service", "merge", SIRET, SERVICE, "Absent", as_=adm)
    add(1, "service", "merge", SIRET, SERVICE, SERVICE, as_=adm)
    add(3, "service", "delete", SIRET, "Absent", as_=adm)
    add(1, "service", "delete", SIRET, SERVICE, as_=adm)  # not empty
    add(3, "account", "transfer", "nobody-px", "--service", SERVICE2, as_=adm)
    add(3, "account", "transfer", w.collab1, "--service", "Absent", as_=adm)
    # Invitations
    invite = ["account", "invite", "--structure", SIRET]
    for mail in BAD_MAILS:
        add(1, *invite, "--type", "collaborateur", "--service", SERVICE, "--mail", mail, as_=adm)
    add(
        3,
        "account",
        "invite",
        "--structure",
        UNKNOWN_SIRET,
        "--type",
        "administrateur",
        "--mail",
        "n@example.org",
    )
    add(1, *invite, "--type", "collaborateur", "--mail", "n@example.org", as_=adm)  # no service
    add(1, *invite, "--type", "responsable", "--mail", "n@example.org", as_=adm)
    add(
        3,
        *invite,
        "--type",
        "collaborateur",
        "--service",
        "Absent",
        "--mail",
        "n@example.org",
        as_=adm,
    )
    add(1, *invite, "--type", "administrateur", "--service", SERVICE, "--mail", "n@example.org")
    add(
        3,
        *invite,
        "--type",
        "administrateur",
        "--mail",
        "n@example.org",
        "--application",
        "INCONNUE",
    )
    add(1, *invite, "--type", "administrateur", "--mail", "n@example.org", "--application", "a b!")
    add(2, *invite, "--type", "chef", "--mail", "n@example.org")
    add(
        1,
        *invite,
        "--type",
        "collaborateur",
        "--service",
        SERVICE,
        "--mail",
        "pending@example.org",
        as_=adm,
    )  # already open
    # The form
    form = ["account", "complete", link, "--yes"]
    good = f"{PASSWORD}\n{PASSWORD}\n"
    for mobile in BAD_MOBILES:
        add(1, *form, "--last-name", "Roux", "--first-name", "Léa", "--mobile", mobile, stdin=good)
    for last, first in (
        ("", "Léa"),
        ("Roux", " "),
        ("***", "Léa"),
        ("Roux", "'’"),
        ("x" * 65, "Léa"),
    ):
        add(1, *form, "--last-name", last, "--first-name", first, stdin=good)
    for passwords in (
        "court\ncourt\n",
        f"{PASSWORD}\nAutre-Passw0rd!\n",
        "sanschiffre-Abcdef!\nsanschiffre-Abcdef!\n",
    ):
        add(1, *form, "--last-name", "Roux", "--first-name", "Léa", stdin=passwords)
    add(2, *form, "--last-name", "Roux", "--first-name", "Léa", stdin=f"{PASSWORD}\n")
    for token in ("nimportequoi", "abc.def", link + "x", link.rsplit(".", 1)[0]):
        add(
            1,
            "account",
            "complete",
            token,
            "--yes",
            "--last-name",
            "Roux",
            "--first-name",
            "Léa",
            stdin=good,
        )
    # Validators, accounts
    add(3, "account", "validate", "000000000000", as_=adm)
    add(3, "account", "refuse", "000000000000", "--reason", "Non", as_=adm)
    add(1, "account", "refuse", w.extra["request"], "--reason", " ", as_=adm)
    add(1, "account", "validate", w.extra["request"], as_=adm)  # invited, not submitted
    for command in ("show", "delete", "resend-identifier"):
        add(3, "account", command, "nobody-px", as_=adm)
    # Rights
    add(3, "grant", "nobody-px", APP, READ, as_=adm)
    add(3, "grant", w.collab1, APP, "Absent", as_=adm)
    add(3, "grant", w.collab1, "ABSENTE", READ, as_=adm)
    add(1, "grant", w.collab1, "a b!", READ, as_=adm)
    add(1, "grant", w.collab1, APP, "(cn=*)", as_=adm)
    add(1, "revoke", w.collab1, APP, READ, as_=adm)  # not held
    add(1, "undelegate", w.resp2, APP, READ, as_=adm)  # not delegated
    add(1, "delegate", w.resp1, APP, READ, as_=adm)  # already delegated
    # Personal data
    for mail in BAD_MAILS:
        add(1, "me", "update", w.collab1, "--mail", mail, as_=w.collab1)
    for mobile in BAD_MOBILES:
        add(1, "me", "update", w.collab1, "--mobile", mobile, as_=w.collab1)
    add(1, "me", "update", w.collab1, "--last-name", "", as_=w.collab1)
    add(1, "me", "update", w.collab1, as_=w.collab1)
    add(
        1, "me", "update", w.collab1, "--mail", "ok@example.org", "--mobile", "abc", as_=w.collab1
    )  # a good field with a bad one: neither is written
    add(3, "me", "update", "nobody-px", "--last-name", "X")
    return out


def test_bad_input_is_refused_with_one_error_line_and_no_change(
    app_cli: Cli, slapd: SlapdInstance
) -> None:
    """Invalid SIRET, unknown category, missing service, unknown account, bad mail or mobile."""
    w = flows.world(app_cli)
    flows.invite(app_cli, SIRET, "collaborateur", "pending@example.org", SERVICE, as_=w.adm_a)
    w.extra["request"] = app_cli.ok("account", "pending", as_=w.adm_a)[0]["request_id"]
    link = app_cli.link_for("pending@example.org")
    before = flows.snapshot(slapd)
    queued = len(app_cli.ok("outbox", "list"))
    wrong = []
    for code, argv, as_, stdin in _cases(w, link):
        result = app_cli.run(*argv, as_=as_, input=stdin)
        lines = result.stderr.splitlines()
        if (
            result.exit_code != code
            or result.stdout != ""
            or len(lines) != 1
            or not lines[0].startswith("error: ")
        ):
            wrong.append(
                f"{argv} as {as_}: exit {result.exit_code} (expected {code}), "
                f"stdout={result.stdout!r} stderr={result.stderr!r}"
            )
    assert not wrong, "\n".join(wrong)
    assert flows.snapshot(slapd) == before, "a refused command wrote to the directory"
    assert len(app_cli.ok("outbox", "list")) == queued, "a refused command queued a message"
    # The link survived every refused form.
    flows.complete(app_cli, "pending@example.org", "Léa", "Roux")
