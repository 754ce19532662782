"""`apexdir init`: base branches and password policies in the configured directory.

Idempotent: what exists is kept (policies are brought in line with the configuration).
"""

from __future__ import annotations

from pathlib import Path

from apexdir.config import PolicySettings
from apexdir.directory import ldif
from apexdir.directory.connection import Directory
from apexdir.directory.layout import Layout
from apexdir.directory.pwcheck import MODULE_NAME, module_arg
from apexdir.errors import Unavailable
from apexdir.resources import ldif_dir

SCHEMA_MARKERS = ("apexAccount", "apexStructure", "apexProfile", "apexRequest")
# Policy attributes earlier versions set and this one removes (see policy_entries).
RETIRED_POLICY_ATTRS = ("pwdMaxLength",)
# Applications' service accounts: length of the secret apexdir draws, and the lockout.
APP_SECRET_MIN_LENGTH = 32
APP_LOCKOUT_FAILURES = 20
APP_LOCKOUT_SECONDS = 60


def render(template: Path, layout: Layout, **extra: object) -> str:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template.read_text(encoding="utf-8")).render(
        **layout.template_vars(), **extra
    )


def policy_entries(layout: Layout, policy: PolicySettings) -> dict[str, dict[str, list[str]]]:
    """The ppolicy entries: the partners' policy (SPEC §4) and one for technical accounts."""
    return {
        layout.default_policy_dn: _partners_policy(policy),
        layout.system_policy_dn: _system_policy(),
        apps_policy_dn(layout): _apps_policy(),
        decoy_policy_dn(layout): _decoy_policy(policy),
    }


def _partners_policy(policy: PolicySettings) -> dict[str, list[str]]:
    """The partners' policy (SPEC §4)."""
    return {
        "objectClass": ["organizationalRole", "pwdPolicy", "pwdPolicyChecker"],
        "cn": ["default"],
        "pwdAttribute": ["userPassword"],
        # ppolicy counts bytes ("é" is two) and checks pwdMaxLength even on a hashed value:
        # the character limits of SPEC §4 are the check module's (pwdCheckModuleArg).
        "pwdMinLength": [str(policy.password_min_length)],
        "pwdInHistory": [str(policy.password_history)],
        "pwdMaxAge": [str(policy.password_max_age_days * 86400)],
        "pwdExpireWarning": [str(max(policy.password_expiry_warnings_days, default=0) * 86400)],
        "pwdGraceAuthNLimit": ["0"],
        "pwdLockout": ["TRUE"],
        # slapd 2.5's progressive delay (pwdMinDelay/pwdMaxDelay) would suit a lock that
        # anyone can reach better, but Debian 12's slapd 2.5.13 dies at the first failed
        # bind with it set (measured with Debian 12 slapd 2.5.13+dfsg-5). The lock
        # stays, above what the portal's growing delays let through (workflows/guard.py).
        "pwdMaxFailure": [str(policy.directory_lockout_failures)],
        "pwdLockoutDuration": [str(policy.lockout_minutes * 60)],
        "pwdFailureCountInterval": [str(policy.lockout_minutes * 60)],
        # 2: a value slapd cannot check (hashed by the client) is refused; the module
        # (apexdir/directory/pwcheck) applies the rules of SPEC §4 to every cleartext.
        "pwdCheckQuality": ["2"],
        "pwdCheckModule": [MODULE_NAME],
        "pwdCheckModuleArg": [module_arg(policy.password_min_length, policy.password_max_length)],
        "pwdAllowUserChange": ["TRUE"],
        "pwdMustChange": ["FALSE"],
        "pwdSafeModify": ["FALSE"],
        "description": ["Politique de mot de passe des comptes partenaires (SPEC 4)"],
    }


def _system_policy() -> dict[str, list[str]]:
    """Technical accounts: random secrets, no expiry, no lockout."""
    return {
        "objectClass": ["organizationalRole", "pwdPolicy"],
        "cn": ["system"],
        "pwdAttribute": ["userPassword"],
        "pwdMaxAge": ["0"],
        "pwdLockout": ["FALSE"],
        "pwdInHistory": ["0"],
        "pwdCheckQuality": ["0"],
        "description": ["Comptes techniques: secrets aleatoires, sans expiration ni verrouillage"],
    }


def _apps_policy() -> dict[str, list[str]]:
    """Applications' service accounts (issue 12)."""
    # A secret apexdir draws (192 bits, 32
    # characters) and only apexdir sets (ACL); the policy refuses anything shorter or any
    # change by the account itself, and a lockout caps online guessing. A short lockout
    # rather than a long one: anyone who knows the DN can trigger it, and a locked service
    # account stops the application's partner logins.
    return {
        "objectClass": ["organizationalRole", "pwdPolicy"],
        "cn": ["apps"],
        "pwdAttribute": ["userPassword"],
        "pwdMinLength": [str(APP_SECRET_MIN_LENGTH)],
        "pwdCheckQuality": ["2"],
        "pwdAllowUserChange": ["FALSE"],
        "pwdMaxAge": ["0"],
        "pwdInHistory": ["0"],
        "pwdLockout": ["TRUE"],
        "pwdMaxFailure": [str(APP_LOCKOUT_FAILURES)],
        "pwdLockoutDuration": [str(APP_LOCKOUT_SECONDS)],
        "pwdFailureCountInterval": [str(APP_LOCKOUT_SECONDS)],
        "description": ["Comptes de service des applications: secret aleatoire pose par apexdir"],
    }


def _decoy_policy(policy: PolicySettings) -> dict[str, list[str]]:
    """The decoy's policy (issue 12, item 4): failures counted, never locked."""
    # A wrong password on it costs slapd what it costs on a
    # partner's account (the hash, then the failure recorded: one durable write), but it
    # never locks — a locked decoy would answer faster than a partner's account.
    return {
        "objectClass": ["organizationalRole", "pwdPolicy"],
        "cn": ["decoy"],
        "pwdAttribute": ["userPassword"],
        "pwdMaxAge": ["0"],
        "pwdLockout": ["FALSE"],
        "pwdMaxFailure": ["0"],
        "pwdMaxRecordedFailure": [str(policy.directory_lockout_failures)],
        "pwdFailureCountInterval": [str(policy.lockout_minutes * 60)],
        "pwdInHistory": ["0"],
        "pwdCheckQuality": ["0"],
        "description": ["Leurre des identifiants inconnus: echecs comptes, jamais verrouille"],
    }


def decoy_policy_dn(layout: Layout) -> str:
    return f"cn=decoy,{layout.policies_dn}"


def decoy_dn(layout: Layout) -> str:
    """The entry an unknown identifier's anonymous steps work on (apexdir/workflows/auth/):
    the same reads, the same bind, the same hashing as a partner's account, so that the
    time of an answer does not tell whether the identifier exists."""
    return f"cn=decoy,{layout.system_dn}"


def decoy_entry(layout: Layout) -> dict[str, list[str]]:
    """A person nobody can bind as (a random password, hashed as partners' passwords are)."""
    from apexdir.directory.hashing import password_hash, random_secret

    return {
        "objectClass": ["inetOrgPerson"],
        "cn": ["decoy"],
        "sn": ["decoy"],
        "description": ["Leurre: identifiants inconnus (temps de reponse egal)"],
        "userPassword": [password_hash(random_secret())],
        "pwdPolicySubentry": [decoy_policy_dn(layout)],
    }


def apps_policy_dn(layout: Layout) -> str:
    """The policy of applications' service accounts (`cn=apps` beside the others)."""
    return f"cn=apps,{layout.policies_dn}"


def schema_present(directory: Directory) -> list[str]:
    """The apexdir object classes missing from the server's schema (empty when loaded)."""
    found = directory.search(
        "cn=Subschema", "(objectClass=subschema)", ["objectClasses"], scope="base", paged=False
    )
    text = " ".join(str(v) for e in found for v in e.all("objectClasses"))
    return [name for name in SCHEMA_MARKERS if f"'{name}'" not in text]


def initialize(directory: Directory, layout: Layout, policy: PolicySettings) -> list[str]:
    """Create what is missing; return the DNs created."""
    missing = schema_present(directory)
    if missing:
        raise Unavailable(
            "the apexdir schema is not loaded in the directory (missing "
            + ", ".join(missing)
            + "): load schema/apex.schema or schema/apex.ldif first"
        )
    created: list[str] = []
    base = render(ldif_dir() / "base.ldif.j2", layout)
    records = list(ldif.parse(base))
    records += list(policy_entries(layout, policy).items())
    for dn, attrs in records:
        current = directory.get(dn, ["1.1"])
        if current is None:
            directory.add(dn, attrs)
            created.append(dn)
        elif dn.startswith("cn=") and dn.endswith(layout.policies_dn):
            # objectClass too: an older policy lacks the auxiliary pwdPolicyChecker.
            retired = {name: None for name in RETIRED_POLICY_ATTRS if name not in attrs}
            directory.replace(dn, **attrs, **retired)
    # After the policies: the decoy names its own. Created once, its password never known;
    # given a new one when the scheme changed, so that its bind costs what partners' cost.
    from apexdir.directory.hashing import SCHEME

    decoy = directory.get(decoy_dn(layout), ["userPassword"])
    if decoy is None:
        directory.add(decoy_dn(layout), decoy_entry(layout))
        created.append(decoy_dn(layout))
    elif not _text(decoy.get("userPassword")).startswith(SCHEME):
        directory.replace(decoy_dn(layout), userPassword=decoy_entry(layout)["userPassword"])
    return created


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
