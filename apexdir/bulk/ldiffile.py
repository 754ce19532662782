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

A big file without folded lines is cut into pieces at empty lines (`pieces`): the checking
pool's processes read pieces from the start and this one from the end, each running the
accounts' own checks too (`checks.check_accounts`); the pieces are merged in file order, so
that items, problems and line numbers are those of one pass. Only what needs the whole file
(duplicates, references) is left to `apexdir.bulk.validate`.
"""

from __future__ import annotations

import base64
import binascii
import marshal
import sys
from concurrent.futures import Future
from pathlib import Path

from apexdir.bulk.checks import INHERITED, Pool, check_accounts, gc_paused
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


def looks_like_ldif(text: str) -> bool:
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return line.lower().startswith(("dn:", "version:"))
    return False


# From this size (≈ 2,500 accounts) a file without folded lines is read in pieces by the
# checking pool's processes and by this one: below, handing pieces out costs more.
PARALLEL_BYTES = 2_000_000
PIECES_PER_WORKER = 8  # small enough pieces that the processes finish close together


def parse_text(text: str, layout: Layout, pool: Pool | None = None) -> Parsed:
    """The file's items and bad records; with `pool`, a big file is read and each account's
    own checks run (`checks.check_accounts`) in pieces, in parallel."""
    reader = _Reader(layout)
    if "\n " in text or "\r" in text or text.startswith(" "):
        for line, lines in records(text):  # folded lines, CRLF: the general path
            reader.parsed.records += 1
            reader.record(line, lines)
    elif pool is not None and len(text) >= PARALLEL_BYTES:
        return read_parallel(text, layout, pool, pool.workers * PIECES_PER_WORKER)
    else:
        _unfolded(text, reader)
    return reader.parsed


def pieces(text: str, count: int) -> list[tuple[int, int, int]]:
    """(start, end, line of start) of ≈ `count` pieces of `text` that each begin a record: a
    piece ends after an empty line, which ends any record in `_unfolded`."""
    bounds = [(0, 1)]
    step = max(1, len(text) // count)
    start, line = 0, 1
    while True:
        cut = text.find("\n\n", start + step)
        if cut < 0:
            break
        cut += 2
        line += text.count("\n", start, cut)
        bounds.append((cut, line))
        start = cut
    ends = [b[0] for b in bounds[1:]] + [len(text)]
    return [(a, end, n) for (a, n), end in zip(bounds, ends, strict=True) if end > a]


def read_piece(text: str, first_line: int, layout: Layout) -> Parsed:
    """One piece of a file (`pieces`), read and its accounts checked: a worker's job."""
    with gc_paused():
        reader = _Reader(layout)
        _unfolded(text, reader, first_line)
        check_accounts([i for i in reader.parsed.items if isinstance(i, AccountItem)])
        return reader.parsed


ITEM_KINDS = (StructureItem, ServiceItem, ApplicationItem, ProfileItem, AccountItem)


def read_packed(text: str, first_line: int, layout: Layout) -> bytes:
    """`read_piece` in a worker, its result as marshal of plain tuples: half the cost of
    pickling the dataclasses, both ways (a big file's items cross by the hundred thousand,
    and this process unpacks them while it reads pieces of its own)."""
    parsed = read_piece(text, first_line, layout)
    kinds = {kind: index for index, kind in enumerate(ITEM_KINDS)}
    return marshal.dumps(
        (
            parsed.records,
            [(p.line, p.reason) for p in parsed.problems],
            # A dataclass's __dict__ holds its fields in their order (set by __init__).
            [(kinds[type(i)], *i.__dict__.values()) for i in parsed.items],
        )
    )


def read_inherited(start: int, end: int, first_line: int, layout: Layout) -> bytes:
    """`read_packed` of a piece of the text this worker was forked with (`Pool.start`)."""
    return read_packed(INHERITED["text"][start:end], first_line, layout)


def unpack(data: bytes) -> Parsed:
    records, problems, items = marshal.loads(data)
    return Parsed(
        items=[ITEM_KINDS[row[0]](*row[1:]) for row in items],
        problems=[Problem(*p) for p in problems],
        records=records,
        format="ldif",
    )


def read_parallel(text: str, layout: Layout, pool: Pool, count: int) -> Parsed:
    """`pieces` read by the pool's processes and by this one, merged in file order: the same
    items, problems and line numbers as one pass over the whole text."""
    interval = sys.getswitchinterval()
    # The executor's threads here read a worker's result 64 KiB at a time, each read waiting
    # for this thread to yield the GIL (every 5 ms by default): the worker, blocked until its
    # result is read, stood idle ≈ 0.2 s a piece.
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        return _read_parallel(text, layout, pool, count)
    finally:
        sys.setswitchinterval(interval)


def _read_parallel(text: str, layout: Layout, pool: Pool, count: int) -> Parsed:
    bounds = pieces(text, count)
    inherited = pool.start(text=text)
    parts: list[Parsed | Future[bytes] | None] = [None] * len(bounds)
    front, back = 0, len(bounds) - 1
    while front <= back:
        # The workers take pieces from the start, two each at most so that one is queued
        # when one ends (a piece submitted is theirs: the executor queues it at once);
        # this process takes the last piece left meanwhile, then tops them up again.
        running = sum(1 for p in parts[:front] if isinstance(p, Future) and not p.done())
        while front <= back and running < 2 * pool.workers:
            a, b, n = bounds[front]
            if inherited:
                parts[front] = pool.executor.submit(read_inherited, a, b, n, layout)
            else:
                parts[front] = pool.executor.submit(read_packed, text[a:b], n, layout)
            front, running = front + 1, running + 1
        if front <= back:
            a, b, n = bounds[back]
            parts[back] = read_piece(text[a:b], n, layout)
            back -= 1
        for index, part in enumerate(parts[:front]):  # unpacked meanwhile, not all at the end
            if isinstance(part, Future) and part.done():
                parts[index] = unpack(part.result())
    merged = Parsed(format="ldif")
    for part in parts:
        done = unpack(part.result()) if isinstance(part, Future) else part
        assert done is not None
        merged.items += done.items
        merged.problems += done.problems
        merged.records += done.records
    return merged


def _unfolded(text: str, reader: _Reader, first_line: int = 1) -> None:
    """`records` + `parse_record` in one pass, for the usual file without folded lines
    (apexdir's and ldapadd-style LDIF): a 100,000-account file has two million lines."""
    start, dn, attrs, error = 0, "", {}, ""
    keys: dict[str, str] = {}  # an attribute name as written → stripped, lower case
    for number, raw in enumerate([*text.split("\n"), ""], start=first_line):
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
        head = value[:1]
        if head == ":":
            try:
                value = base64.b64decode(value[1:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
                error = str(exc)
                continue
        elif head == "<":
            error = f"{name}: values read from a URL (:<) are not supported"
            continue
        else:
            value = value.strip()
        key = keys.get(name)
        if key is None:
            key = keys[name] = name.strip().lower()
        if key == "dn":
            dn = value
        elif key in attrs:
            attrs[key].append(value)
        else:
            attrs[key] = [value]


def parse(path: Path, layout: Layout, encoding: str = "utf-8", pool: Pool | None = None) -> Parsed:
    return parse_text(read_text(path, encoding), layout, pool)
