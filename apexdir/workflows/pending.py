"""Pre-creations that wait (SPEC §5.3, §5.5): the steps of the daemon's `pending` job.

In this order, each pass (`STEPS`):
1. **expire** the invitations whose link has expired (`invitation_validity_days`): status
   `expired`, link hash removed, the creator told — by mail when the creator is a partner
   (his current address), in the journal only when it was an agent (agents have no mailbox);
2. **remind the invitee** once, `invitation_reminder_days` after the invitation, with the
   very link of the first mail, which stays valid (issue 19 item 11): its secret is derived
   from the request under the secrets key (`precreation.link_secret`), so it is made again
   rather than stored. A request invited before that (a random secret, only its hash kept),
   or under a secrets key rotated since, gets a fresh secret instead (the stored hash is
   swapped, which voids the first link), with the same expiry;
3. **remind the validators** of forms submitted more than `validator_reminder_days` ago (they
   were mailed at the submission, `workflows.validators`), and again every
   `validator_reminder_days` while they wait: the administrators of the structure
   for responsables and collaborateurs (the agents' mailbox, `daemon.agents_mail`, when the
   structure has none), the agents' mailbox for administrators. One mail per validator lists
   the requests due; without `daemon.agents_mail` the agents' part goes to the journal only;
4. **purge** refused and expired requests `purge_after_days` after their decision. Accepted
   requests are kept (they record who validated whom).

Every step marks the request with a compare-and-swap before mailing (notices.py), so a pass
racing with the invitee, a validator or another pass never sends twice nor acts on a
request that has moved on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apexdir.directory.repository import Repository
from apexdir.directory.requests import expiry_marking, notice_marking, reminder_marking
from apexdir.errors import Invalid, NotFound
from apexdir.models import CreationRequest
from apexdir.runtime import Runtime
from apexdir.workflows import tokens
from apexdir.workflows.notices import Record, Stop, commit, mark_then_commit, undo
from apexdir.workflows.notify import Mail, link
from apexdir.workflows.precreation import LINK_PATH, link_secret
from apexdir.workflows.validators import AGENT_PREFIX, validators

log = logging.getLogger("apexdir.daemon")

REMINDER_NOTICE = "invitation-reminder"
VALIDATOR_NOTICE = "validator-reminder-{n}"


# ---------------------------------------------------------------------- 1. expiry
def creator_mail(repo: Repository, created_by: str | None) -> str | None:
    """The current address of the partner who created the request; None for an agent."""
    if not created_by or created_by.lower().startswith(AGENT_PREFIX):
        return None
    try:
        account = repo.account(created_by)
    except (NotFound, Invalid):
        return None  # deleted since, or not an identifier: the journal keeps the fact
    return account.mail if account.status == "active" and account.mail else None


def expire(rt: Runtime, now: datetime, stop: Stop) -> int:
    repo = Repository(rt.directory, rt.layout)
    found = repo.expired_invitations(now)
    done = 0
    for req in found:
        if stop():
            break
        to = creator_mail(repo, req.created_by)
        mails = []
        if to:
            mails.append(
                Mail("invitation_expired", [to], {"mail": req.mail, "date": req.requested_at})
            )
        record = Record(
            "request.expire",
            req.id,
            {"mail": req.mail, "created_by": req.created_by, "creator_notified": bool(to)},
        )
        if mark_then_commit(rt, expiry_marking(req, now), mails, [record]):
            done += 1
    return done


# ---------------------------------------------------------------------- 2. invitee
def remind_invitees(rt: Runtime, now: datetime, stop: Stop) -> int:
    repo = Repository(rt.directory, rt.layout)
    after = timedelta(days=rt.settings.policy.invitation_reminder_days)
    found = repo.invitations_to_remind(now - after, now, REMINDER_NOTICE)
    done = 0
    for req in found:
        if stop():
            break
        if not req.token_hash or (req.expires_at and req.expires_at <= now):
            continue
        secret = link_secret(rt, req.id)
        same = tokens.matches(secret, req.token_hash)
        if not same:
            secret = tokens.new_secret()  # a link of before derived secrets: a new one
        fresh = tokens.digest(secret)
        mail = Mail(
            "invitation_reminder",
            [req.mail],
            {
                "lien": link(rt, LINK_PATH, f"{req.id}.{secret}"),
                "date_expiration": req.expires_at,
            },
        )
        record = Record("request.remind", req.id, {"mail": req.mail, "same_link": same})
        # The hash is deleted and put back even when it stays: the mark is conditional on
        # the link being unspent (a submission racing with this pass wins).
        marking = reminder_marking(req, fresh, REMINDER_NOTICE)
        sent = mark_then_commit(rt, marking, [mail], [record])
        done += int(sent)
    return done


# ---------------------------------------------------------------------- 3. validators
def remind_validators(rt: Runtime, now: datetime, stop: Stop) -> int:
    repo = Repository(rt.directory, rt.layout)
    every = timedelta(days=rt.settings.policy.validator_reminder_days)
    if every <= timedelta(0):
        return 0
    found = repo.submissions_before(now - every)
    cache: dict[str, list[str]] = {}
    due: list[tuple[CreationRequest, str, list[str]]] = []
    for req in found:
        if stop():
            break
        if not req.submitted_at:
            continue
        notice = VALIDATOR_NOTICE.format(n=(now - req.submitted_at) // every)
        if notice in req.notices:
            continue
        # Mark first: a request reminded by a concurrent pass is left out of this mail.
        if repo.note(req, notice):
            due.append((req, notice, validators(rt, repo, req, cache)))
    if not due:
        return 0
    by_address: dict[str, list[str]] = {}
    for req, _, addresses in due:
        for address in addresses:
            by_address.setdefault(address.lower(), []).append(req.mail)
    mails = [
        Mail("validator_reminder", [address], {"count": len(waiting), "mails": sorted(waiting)})
        for address, waiting in sorted(by_address.items())
    ]
    records = [
        Record(
            "request.remind-validators",
            req.id,
            {"mail": req.mail, "type": req.type, "validators": addresses or None},
        )
        for req, _, addresses in due
    ]
    try:
        commit(rt, mails, records)
    except BaseException:
        for req, notice, _ in due:
            undo(rt, notice_marking(req, notice))
        raise
    return len(due)


# ---------------------------------------------------------------------- 4. purge
def purge(rt: Runtime, now: datetime, stop: Stop) -> int:
    repo = Repository(rt.directory, rt.layout)
    cut = now - timedelta(days=rt.settings.policy.purge_after_days)
    found = repo.purgeable_requests(cut)
    done = 0
    for req in found:
        if stop():
            break
        try:
            repo.delete_request(req)
        except NotFound:
            continue
        commit(rt, [], [Record("request.purge", req.id, {"status": req.status})])
        done += 1
    return done


# The steps of a pass, in order, by the name of their count.
STEPS = (
    ("expired", expire),
    ("reminded", remind_invitees),
    ("validators_reminded", remind_validators),
    ("purged", purge),
)
