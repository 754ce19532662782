"""The import LDIF: content records (RFC 2849) shaped like apexdir's own entries.

What `ldapadd` would take, or a `slapcat` of another apexdir directory. Each record is
recognized by where its DN sits and by its object class:

- `apexSiret=…,ou=structures,BASE` (apexStructure): apexSiret, apexCategory, o, apexTradeName,
  street, apexStreet2, postalCode, l, apexCountry;
- `apexServiceId=…,apexSiret=…,ou=structures,BASE` (apexService): apexServiceId, cn;
- `apexAppCode=…,ou=applications,BASE` (apexApplication): apexAppCode, cn;
- `cn=…,apexAppCode=…,ou=applications,BASE` (apexProfile): cn, apexAppCode, member — the
  members become habilitations, added in large batches after the accounts;
- `uid=…,ou=people,BASE` (inetOrgPerson + apexAccount): uid, sn, givenName, mail, mobile,
  apexAccountType, apexStructureRef, apexServiceRef, apexClientApplication,
  apexDelegatedProfile, memberOf (read as habilitations), userPassword (hashed values only:
  {ARGON2}, {PBKDF2-SHA512}, {PBKDF2-SHA256}, {PBKDF2-SHA1}, {PBKDF2}, {SSHA}, {CRYPT}), and
  as given apexStatus, apexRequestedAt, apexValidatedAt, apexCreatedBy, apexValidatedBy,
  displayName, description. `cn` is recomputed from the names.

Operational attributes (entryUUID, entryCSN, timestamps, pwdHistory, …) and one-time secrets
(apexLoginCode, apexResetSecret) are dropped; `pwdChangedTime` is kept by `--offline` only
(slapd refuses it over LDAP). The base entries `apexdir init` creates are skipped. Any other
entry or attribute is reported as an error with the line of its `dn:`.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from apexdir.bulk.csvfile import read_text
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
        "pwdPolicySubentry pwdLastSuccess apexLoginCode apexResetSecret apexNotice objectClass"
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
STRUCTURE_ATTRS = {a.lower(): name for name, a in m.STRUCTURE.items()}


def parse_record(lines: list[str]) -> tuple[str, dict[str, list[str]]]:
    """(dn, {lower-case attribute: values}) of one record's unfolded lines.

    What `apexdir.directory.ldif.parse` does for one record, without its generality: a bulk
    file has hundreds of thousands of records and the caller already split them (it needs
    their line numbers).
    """
    dn = ""
    attrs: dict[str, list[str]] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"not an LDIF line: {line!r}")
        if value[:1] == ":":
            value = base64.b64decode(value[1:].strip()).decode("utf-8")
        elif value[:1] == "<":
            raise ValueError(f"{name}: values read from a URL (:<) are not supported")
        else:
            value = value.strip()
        key = name.strip().lower()
        if key == "dn":
            dn = value
        elif key in attrs:
            attrs[key].append(value)
        else:
            attrs[key] = [value]
    if not dn:
        raise ValueError("record without dn")
    return dn, attrs


def records(text: str) -> list[tuple[int, list[str]]]:
    """(line of the first line, lines) per record; comments and `version:` dropped."""
    out: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("#"):
            continue
        if raw.startswith(" ") and current:
            current[-1] += raw[1:]
            continue
        if not raw.strip():
            if current:
                out.append((start, current))
                current = []
            continue
        if not current:
            start = number
        current.append(raw)
    if current:
        out.append((start, current))
    return [(n, lines) for n, lines in out if not lines[0].lower().startswith("version:")]


class _Reader:
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
        """One record read by `_unfolded`; a lone `version:` line is no record."""
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
        values = {name: _one(attrs, a) for a, name in STRUCTURE_ATTRS.items()}
        siret = values.pop("siret") or ""
        if siret != rdn_value(dn):
            self.problem(line, f"apexSiret {siret!r} differs from the DN's ({dn})")
            return
        self.parsed.items.append(StructureItem(line, siret, **values))

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
        if not self.only(line, attrs, ACCOUNT_ATTRS | set(PASSED_ON)):
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
        self.parsed.items.append(
            AccountItem(
                line,
                rdn_value(structure_dn),
                _one(attrs, "apexaccounttype") or "",
                _one(attrs, "sn") or "",
                _one(attrs, "givenname") or "",
                _one(attrs, "mail") or "",
                service_dn=_one(attrs, "apexserviceref"),
                mobile=_one(attrs, "mobile"),
                identifier=uid,
                application=_one(attrs, "apexclientapplication"),
                habilitations=list(attrs.get("memberof", [])),
                delegations=list(attrs.get("apexdelegatedprofile", [])),
                password_hash=password,
                password_changed=_one(attrs, "pwdchangedtime"),
                extra={PASSED_ON[a]: v for a, v in attrs.items() if a in PASSED_ON},
            )
        )


def _one(attrs: dict[str, list[str]], name: str) -> str | None:
    values = attrs.get(name)
    return values[0].strip() if values else None


def looks_like_ldif(text: str) -> bool:
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return line.lower().startswith(("dn:", "version:"))
    return False


def parse_text(text: str, layout: Layout) -> Parsed:
    reader = _Reader(layout)
    if "\n " in text or "\r" in text or text.startswith(" "):
        for line, lines in records(text):  # folded lines, CRLF: the general path
            reader.parsed.records += 1
            reader.record(line, lines)
    else:
        _unfolded(text, reader)
    return reader.parsed


def _unfolded(text: str, reader: _Reader) -> None:
    """`records` + `parse_record` in one pass, for the usual file without folded lines
    (apexdir's and ldapadd-style LDIF): a 100,000-account file has two million lines."""
    start, dn, attrs, error = 0, "", {}, ""
    for number, raw in enumerate([*text.split("\n"), ""], start=1):
        if not raw or raw.isspace():
            if start:
                reader.flush(start, dn, attrs, error)
                start, dn, attrs, error = 0, "", {}, ""
            continue
        if raw[0] == "#" or error:
            continue
        if not start:
            start = number
        name, sep, value = raw.partition(":")
        if not sep:
            error = f"not an LDIF line: {raw!r}"
            continue
        if value[:1] == ":":
            try:
                value = base64.b64decode(value[1:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
                error = str(exc)
                continue
        elif value[:1] == "<":
            error = f"{name}: values read from a URL (:<) are not supported"
            continue
        else:
            value = value.strip()
        key = name.strip().lower()
        if key == "dn":
            dn = value
        elif key in attrs:
            attrs[key].append(value)
        else:
            attrs[key] = [value]


def parse(path: Path, layout: Layout, encoding: str = "utf-8") -> Parsed:
    return parse_text(read_text(path, encoding), layout)
