"""The mails of a restored spool: codes and links past their use dropped, the rest held."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from apexdir.config import Settings
from apexdir.state.db import open_store
from apexdir.state.outbox import Outbox


def triage(settings: Settings) -> dict[str, Any]:
    """The restored spool sorted (`Outbox.triage_after_restore`): {"dropped": n, "held": […]}.
    Opening the store also brings its schema up to date."""
    policy = settings.policy
    validity = timedelta(minutes=max(policy.login_code_minutes, policy.reset_validity_minutes))
    db = open_store(Path(settings.state.path))
    try:
        return Outbox(db).triage_after_restore(validity)
    finally:
        db.close()
