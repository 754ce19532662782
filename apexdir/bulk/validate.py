"""Items + what exists → a plan of entries to write, and every bad line with its reason.

The rules are the workflows' own (SIRET, categories, names, mails, mobiles, identifiers,
catalogue codes), called here on each item; nothing is written. Dependencies are resolved
across the whole file, whatever the order of its lines: an account may name a structure
defined further down. A line that depends on a bad line is bad too, and says which.

What exists is skipped (a re-run resumes): a structure by SIRET, a service by name within
its structure, an application by code, a profile by name, an account by identifier when the
file gives one, else by (structure, mail). Existing entries are never modified; only the
habilitations they miss are added.

The work, by what it does: `refs` (what may be referred to, and its DNs), `entries`
(structures, services, applications, profiles), `accounts` (account lines, duplicates,
existing accounts), `allocate` (identifiers), `members` (habilitations); the checks of one
line that need nothing else are rules (`apexdir.rules.import_rows`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apexdir.bulk.accounts import AccountPlanner
from apexdir.bulk.checks import PASSED_ON_RULES as PASSED_ON_RULES  # where tests look
from apexdir.bulk.checks import Pool
from apexdir.bulk.checks import passed_on as passed_on
from apexdir.bulk.entries import EntryPlanner
from apexdir.bulk.items import (
    AccountItem,
    ApplicationItem,
    Item,
    ProfileItem,
    ServiceItem,
    StructureItem,
)
from apexdir.bulk.members import Memberships
from apexdir.bulk.plan import Plan
from apexdir.bulk.refs import References
from apexdir.bulk.snapshot import Snapshot
from apexdir.rules.import_rows import APP_NAME_LENGTH as APP_NAME_LENGTH
from apexdir.rules.import_rows import SERVICE_ID_LENGTH as SERVICE_ID_LENGTH
from apexdir.rules.import_rows import app_label as app_label
from apexdir.runtime import Runtime


def validate(
    rt: Runtime,
    items: list[Item],
    snapshot: Snapshot,
    *,
    now: datetime,
    creator: str,
    pool: Pool | None = None,
) -> Plan:
    """Every item checked, in the order dependencies need: structures, the catalogue,
    services, accounts, then the members listed on profiles."""
    plan = Plan()
    refs = References(rt.layout, snapshot)
    members = Memberships(plan, snapshot, rt.layout)
    entries = EntryPlanner(rt, refs, plan)
    accounts = AccountPlanner(refs, plan, members, now=now, creator=creator, pool=pool)
    kinds: dict[type, list[Any]] = {}
    for item in items:
        kinds.setdefault(type(item), []).append(item)
    members.account_items = kinds.get(AccountItem, [])
    entries.structures(kinds.get(StructureItem, []))
    for app in kinds.get(ApplicationItem, []):
        entries.application(app)
    profiles = kinds.get(ProfileItem, [])
    for profile in profiles:
        entries.profile(profile)
    entries.services(kinds.get(ServiceItem, []))
    accounts.run(kinds.get(AccountItem, []))
    for profile in profiles:
        members.listed_on(profile, refs.profiles)
    plan.problems.sort(key=lambda p: p.line)
    return plan
