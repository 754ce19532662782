"""Backup and restore of one apexdir node: the directory, its change feed, the state store.

A backup is a folder (mode 700: it holds password hashes and queued mails with codes):

- `directory.ldif`: the main database, every entry with the operational attributes slapd
  keeps (entryUUID, entryCSN, memberOf, pwdHistory, pwdChangedTime, authTimestamp…);
- `accesslog.ldif`: the daemon's change feed (`cn=accesslog`), when it could be read;
- `state.db`: the node's SQLite state store (spool with its queued mails, journal, job
  cursors), copied with SQLite's online backup API, so the daemon may keep writing;
- `manifest.json`: versions, counts and SHA-256 checksums, checked before any restore.

The directory is read with `slapcat` when slapd's files are local and readable: one MDB read
transaction per database, consistent while slapd keeps serving. Otherwise (or `online`) it
is exported through apexdir's own LDAP account, asking for every user and operational
attribute. A restore always loads with `slapadd` into a stopped, empty slapd: LDAP adds
could not keep entryUUID, entryCSN or the ppolicy state.

The modules, by what they do: `archive` (the folder's format: files, manifest, checksums),
`slapd` (slapd's files on this machine, slapcat and slapadd), `take` (writing a backup),
`restore` (loading one), `held` (the mails a restored spool keeps or drops).
"""

from apexdir.backup.archive import read_manifest
from apexdir.backup.restore import restore
from apexdir.backup.slapd import SlapdFiles, locate
from apexdir.backup.take import backup

__all__ = ["SlapdFiles", "backup", "locate", "read_manifest", "restore"]
