"""DN helpers for bulk loads: the names the bulk modules know them by, from the one DN
parser (`apexdir.directory.dn`, whose common path is cut with `str` methods)."""

from __future__ import annotations

from apexdir.directory.dn import norm as norm_dn
from apexdir.directory.dn import parent, rdn_value

__all__ = ["norm_dn", "parent", "rdn_value"]
