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

A big file without folded lines is cut into pieces at empty lines and read in parallel
(`apexdir.bulk.ldifparallel`). Only what needs the whole file (duplicates, references) is
left to `apexdir.bulk.validate`. The reading, by what it does: `ldifsyntax` (text → records),
`ldifentries` (records → items, what is imported), `ldifparallel` (a big file in pieces).
"""

from __future__ import annotations

from pathlib import Path

from apexdir.bulk.checks import Pool
from apexdir.bulk.csvfile import read_text
from apexdir.bulk.items import Parsed
from apexdir.bulk.ldifentries import Reader
from apexdir.bulk.ldifparallel import pieces as pieces
from apexdir.bulk.ldifparallel import read_inherited as read_inherited
from apexdir.bulk.ldifparallel import read_parallel
from apexdir.bulk.ldifparallel import read_piece as read_piece
from apexdir.bulk.ldifparallel import unpack as unpack
from apexdir.bulk.ldifsyntax import looks_like_ldif as looks_like_ldif
from apexdir.bulk.ldifsyntax import records, unfolded
from apexdir.directory.layout import Layout

__all__ = ["looks_like_ldif", "parse", "parse_text", "pieces", "read_parallel"]

# From this size (≈ 2,500 accounts) a file without folded lines is read in pieces by the
# checking pool's processes and by this one: below, handing pieces out costs more.
PARALLEL_BYTES = 2_000_000
PIECES_PER_WORKER = 8  # small enough pieces that the processes finish close together


def parse_text(text: str, layout: Layout, pool: Pool | None = None) -> Parsed:
    """The file's items and bad records; with `pool`, a big file is read and each account's
    own checks run (`checks.check_accounts`) in pieces, in parallel."""
    reader = Reader(layout)
    if "\n " in text or "\r" in text or text.startswith(" "):
        for line, lines in records(text):  # folded lines, CRLF: the general path
            reader.parsed.records += 1
            reader.record(line, lines)
    elif pool is not None and len(text) >= PARALLEL_BYTES:
        return read_parallel(text, layout, pool, pool.workers * PIECES_PER_WORKER)
    else:
        unfolded(text, reader)
    return reader.parsed


def parse(path: Path, layout: Layout, encoding: str = "utf-8", pool: Pool | None = None) -> Parsed:
    return parse_text(read_text(path, encoding), layout, pool)
