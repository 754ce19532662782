"""The import LDIF's entries: each record recognized by where its DN sits and by its object
class, its attributes checked against what apexdir imports, and turned into an item."""

from __future__ import annotations

import binascii

from apexdir.bulk.dn import norm_dn, parent, rdn_value
from apexdir.bulk.items import (
    AccountItem,
    ApplicationItem,
    Parsed,
    Problem,
    ProfileItem,
    ServiceItem,
    StructureItem,
)
from apexdir.bulk.ldifsyntax import parse_record
from apexdir.directory import mapping as m
from apexdir.directory.layout import Layout


def words(text: str) -> tuple[str, ...]:
    """A long list of names written as one string, split on spaces."""
    return tuple(text.split())


PASSWORD_SCHEMES = (
    "{ARGON2}",  # what apexdir writes since issue 12
    "{PBKDF2-SHA512}",
    "{PBKDF2-SHA256}",
    "{PBKDF2-SHA1}",
    "{PBKDF2}",
    "{SSHA}",
    "{CRYPT}",
)
DROPPED = {
    a.lower()
    for a in words(
        "entryUUID entryCSN createTimestamp modifyTimestamp creatorsName modifiersName "
        "structuralObjectClass hasSubordinates subschemaSubentry entryDN contextCSN "
        "authTimestamp pwdHistory pwdFailureTime pwdAccountLockedTime pwdGraceUseTime pwdReset "
        "pwdPolicySubentry pwdLastSuccess apexLoginCode apexResetSecret apexNotice apexDormancy "
        "objectClass"
    )
}
PASSED_ON = {
    a.lower(): a
    for a in (
        "apexStatus",
        "apexRequestedAt",
        "apexValidatedAt",
        "apexCreatedBy",
        "apexValidatedBy",
        "displayName",
        "description",
    )
}
ACCOUNT_ATTRS = {
    a.lower()
    for a in words(
        "uid sn givenName cn mail mobile apexAccountType apexStructureRef apexServiceRef "
        "apexClientApplication apexDelegatedProfile memberOf userPassword pwdChangedTime"
    )
}
ACCOUNT_ALLOWED = ACCOUNT_ATTRS | set(PASSED_ON)
ACCOUNT_KNOWN = ACCOUNT_ALLOWED | DROPPED  # an account with these only needs no `only`
STRUCTURE_ATTRS = {a.lower(): name for name, a in m.STRUCTURE.items()}


class Reader:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.structures = norm_dn(layout.structures_dn)
        self.people = norm_dn(layout.people_dn)
        self.applications = norm_dn(layout.applications_dn)
        names = layout.template_vars()
        self.base_entries = {
            norm_dn(v) for k, v in names.items() if k.endswith("_dn") and k != "apexdir_dn"
        }
        self.parsed = Parsed(format="ldif")

    def problem(self, line: int, reason: str) -> None:
        self.parsed.problems.append(Problem(line, reason))

    def record(self, line: int, lines: list[str]) -> None:
        try:
            dn, lower = parse_record(lines)
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            self.problem(line, f"not an LDIF record: {exc}")
            return
        self.entry(line, dn, lower)

    def flush(self, line: int, dn: str, attrs: dict[str, list[str]], error: str) -> None:
        """One record read by `ldifsyntax.unfolded`; a lone `version:` line is no record."""
        if not error and not dn and set(attrs) == {"version"}:
            return
        self.parsed.records += 1
        if error or not dn:
            self.problem(line, f"not an LDIF record: {error or 'record without dn'}")
        else:
            self.entry(line, dn, attrs)

    def entry(self, line: int, dn: str, lower: dict[str, list[str]]) -> None:
        if "changetype" in lower:
            self.problem(line, "change records are not imported (content records only)")
            return
        classes = {c.lower() for c in lower.get("objectclass", [])}
        up = parent(dn)
        above = norm_dn(up)
        if norm_dn(dn) in self.base_entries:
            return  # what `apexdir init` creates: never imported, never an error
        if above == self.people and "apexaccount" in classes:
            self.account(line, dn, lower)
            return
        grand = norm_dn(parent(up))
        if above == self.structures and "apexstructure" in classes:
            self.structure(line, dn, lower)
        elif grand == self.structures and "apexservice" in classes:
            self.service(line, dn, lower)
        elif above == self.applications and "apexapplication" in classes:
            self.only(line, lower, {"apexappcode", "cn"})
            code = _one(lower, "apexappcode") or rdn_value(dn)
            self.parsed.items.append(ApplicationItem(line, code, _one(lower, "cn") or ""))
        elif grand == self.applications and "apexprofile" in classes:
            self.only(line, lower, {"cn", "apexappcode", "member"})
            app = rdn_value(parent(dn))
            self.parsed.items.append(
                ProfileItem(line, app, rdn_value(dn), members=list(lower.get("member", [])))
            )
        else:
            self.problem(
                line,
                f"{dn}: not an entry apexdir imports (structures, services, accounts, "
                "applications, profiles of this directory's base)",
            )

    def only(self, line: int, attrs: dict[str, list[str]], allowed: set[str]) -> bool:
        extra = sorted(a for a in attrs if a not in allowed and a not in DROPPED)
        if extra:
            self.problem(line, f"attribute(s) not imported here: {', '.join(extra)}")
        return not extra

    def structure(self, line: int, dn: str, attrs: dict[str, list[str]]) -> None:
        if not self.only(line, attrs, set(STRUCTURE_ATTRS)):
            return

        def value(name: str) -> str | None:
            return _one(attrs, m.STRUCTURE[name].lower())

        siret = value("siret") or ""
        if siret != rdn_value(dn):
            self.problem(line, f"apexSiret {siret!r} differs from the DN's ({dn})")
            return
        self.parsed.items.append(
            StructureItem(
                line,
                siret,
                category=value("category"),
                name=value("name"),
                trade_name=value("trade_name"),
                street=value("street"),
                street2=value("street2"),
                postal_code=value("postal_code"),
                city=value("city"),
                country=value("country"),
            )
        )

    def service(self, line: int, dn: str, attrs: dict[str, list[str]]) -> None:
        if not self.only(line, attrs, {"apexserviceid", "cn"}):
            return
        service_id = _one(attrs, "apexserviceid") or ""
        if service_id != rdn_value(dn):
            self.problem(line, f"apexServiceId {service_id!r} differs from the DN's ({dn})")
            return
        siret = rdn_value(parent(dn))
        self.parsed.items.append(ServiceItem(line, siret, _one(attrs, "cn") or "", service_id))

    def account(self, line: int, dn: str, attrs: dict[str, list[str]]) -> None:
        if not (ACCOUNT_KNOWN.issuperset(attrs) or self.only(line, attrs, ACCOUNT_ALLOWED)):
            return
        uid = _one(attrs, "uid") or ""
        if uid.lower() != rdn_value(dn).lower():
            self.problem(line, f"uid {uid!r} differs from the DN's ({dn})")
            return
        passwords = attrs.get("userpassword", [])
        if len(passwords) > 1:
            self.problem(line, "several userPassword values")
            return
        password = passwords[0] if passwords else None
        if password is not None and not password.upper().startswith(PASSWORD_SCHEMES):
            self.problem(
                line,
                "userPassword must be hashed with one of "
                + ", ".join(PASSWORD_SCHEMES)
                + " (passwords are never imported in clear)",
            )
            return
        structure_dn = _one(attrs, "apexstructureref") or ""
        if norm_dn(parent(structure_dn)) != self.structures:
            self.problem(line, f"apexStructureRef {structure_dn!r} is not a structure's DN")
            return
        get = attrs.get  # `_one` written out: ten calls per account, 100,000 accounts
        self.parsed.items.append(
            AccountItem(
                line,
                rdn_value(structure_dn),
                v[0].strip() if (v := get("apexaccounttype")) else "",
                v[0].strip() if (v := get("sn")) else "",
                v[0].strip() if (v := get("givenname")) else "",
                v[0].strip() if (v := get("mail")) else "",
                service_dn=v[0].strip() if (v := get("apexserviceref")) else None,
                mobile=v[0].strip() if (v := get("mobile")) else None,
                identifier=uid,
                application=v[0].strip() if (v := get("apexclientapplication")) else None,
                habilitations=list(get("memberof", [])),
                delegations=list(get("apexdelegatedprofile", [])),
                password_hash=password,
                password_changed=v[0].strip() if (v := get("pwdchangedtime")) else None,
                extra={PASSED_ON[a]: v for a, v in attrs.items() if a in PASSED_ON},
            )
        )


def _one(attrs: dict[str, list[str]], name: str) -> str | None:
    values = attrs.get(name)
    return values[0].strip() if values else None
