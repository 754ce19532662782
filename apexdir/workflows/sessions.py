"""Portal sessions end everywhere at once (SPEC §10, issue 18 item 1).

A session cookie is signed and holds no secret, so any node accepts it: ending it on
one node (clearing the cookie) left every copy of it alive elsewhere — a copied cookie
outlived « Se déconnecter », a password change or a reset, for up to 8 hours. The account
entry carries a generation (`apexSessionGeneration`, a random value); a session records
the generation it began under, and every request compares it with the account's, read
anyway to check the account is still active. Replacing the value ends every session of
the account, on every node, at the next request.
"""

from __future__ import annotations

import hmac
import secrets

from apexdir.directory.repository import Repository
from apexdir.models import Account
from apexdir.runtime import Runtime


def end_all(rt: Runtime, account: Account) -> str:
    """End every session of `account`; the new generation, for the session (if any) that
    should go on under it (the one that changed the password)."""
    generation = secrets.token_hex(12)
    Repository(rt.directory, rt.layout).renew_sessions(account, generation)
    return generation


def is_current(account: Account, generation: object) -> bool:
    """Whether a session that began under `generation` is still valid for `account`."""
    if not isinstance(generation, str):
        return False
    return hmac.compare_digest(generation.encode(), account.session_generation.encode())
