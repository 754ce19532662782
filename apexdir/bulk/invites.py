"""The mail a migrated (or imported) account gets to choose its password.

No password is carried over from APEX v1 (SPEC §4: nobody but the user chooses it). Each
new account is created with a single-use link secret, exactly the record the forgotten-
password link uses (`apexdir.rules.onetime`, kind `mail`, on `apexResetSecret`): only its
salted SHA-256 is stored, it expires after `policy.invitation_validity_days` and allows
`policy.login_code_attempts` wrong tries. The mail ("migration_invite") gives the identifier
and the link; the link is redeemed like a reset link — `apexdir password reset IDENTIFIER
LINK` (new password twice on stdin), or the portal's reset page — where apexdir checks the
policy and slapd sets the password (password-modify, ppolicy). Once used, the secret is
gone. After expiry, "mot de passe oublié" (`apexdir password forgot`) sends a new one.

A re-run finds the accounts of the file that still have no password (no pwdChangedTime)
and no invitation in the spool (e.g. the run was killed between the write and the mail,
or the accounts were loaded offline with slapadd) and invites them then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apexdir.mail.render import CATALOGUE
from apexdir.rules import onetime
from apexdir.runtime import Runtime
from apexdir.workflows import tokens
from apexdir.workflows.auth import RESET_PATH
from apexdir.workflows.notify import link, queue_mail

MAIL = "migration_invite"


def new_invitation(rt: Runtime, now: datetime) -> tuple[str, str]:
    """(record to store on the account, link to mail): the secret lives only in the link."""
    policy = rt.settings.policy
    ident, secret = tokens.new_secret(6), tokens.new_secret()
    record = onetime.issue(
        "mail",
        secret,
        key=rt.settings.ldap.secrets_key(),
        now=now,
        validity=timedelta(days=policy.invitation_validity_days),
        tries=policy.login_code_attempts,
        ident=ident,
    )
    return record.format(), link(rt, RESET_PATH, f"{ident}.{secret}")


def send(rt: Runtime, identifier: str, mail: str, url: str) -> None:
    queue_mail(rt, MAIL, [mail], identifiant=identifier, lien=url)


def already_invited(rt: Runtime) -> set[str]:
    """Addresses (lower case) the spool holds an invitation for, sent or not."""
    subject = CATALOGUE[MAIL].subject
    return {
        address.lower()
        for message in rt.outbox.list()
        if message["subject"] == subject
        for address in message["to"]
    }
