"""The access reviews in the directory (issue 21 item 10): one small `apexReview` entry per
campaign of a structure, under `ou=reviews,ou=system`, so every node (the portal's, the
daemon's) reads and writes the same one.

An entry holds the structure (a DN: refint carries it along when the structure moves to a
new SIRET), its status, the opening and closing times, the reminder days already mailed and
one JSON value per decision (account, profile, confirmed or withdrawn, by whom, when). A
structure's reviews are few (one a year): a search by `apexStructureRef` (eq-indexed).
Every change of status and every reminder is a compare-and-swap (the old value deleted, the
new one added, in one modify): two nodes racing never both act.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime

from apexdir.clock import from_generalized_time, to_generalized_time
from apexdir.directory import filters as f
from apexdir.directory.connection import Directory, Entry
from apexdir.directory.layout import Layout, first_rdn_value
from apexdir.errors import Conflict, NotFound
from apexdir.models import Decision, Review, ReviewDecision, ReviewStatus, StructureStatus

REVIEW_CLASS = "apexReview"
REVIEW_ATTRS = [
    "cn",
    "apexStructureRef",
    "apexStatus",
    "apexReviewOpenedAt",
    "apexReviewClosedAt",
    "apexReviewDecision",
    "apexReviewReminder",
    "apexCreatedBy",
]
LIGHT_ATTRS = ["cn", "apexStructureRef", "apexStatus", "apexReviewOpenedAt"]


def decision_value(d: ReviewDecision) -> str:
    return json.dumps(
        {
            "account": d.identifier,
            "profile": d.habilitation,
            "decision": d.decision,
            "by": d.by,
            "at": to_generalized_time(d.at),
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _decision(value: object) -> ReviewDecision | None:
    try:
        data = json.loads(str(value))
        return ReviewDecision(
            identifier=str(data["account"]),
            habilitation=str(data["profile"]),
            decision=Decision(str(data["decision"])),
            by=str(data["by"]),
            at=from_generalized_time(str(data["at"])),
        )
    except (ValueError, KeyError, TypeError):
        return None  # a value edited by hand: left out


def review_from(entry: Entry) -> Review:
    closed = entry.get("apexReviewClosedAt")
    decisions = [d for d in (_decision(v) for v in entry.all("apexReviewDecision")) if d]
    return Review(
        id=str(entry.get("cn")),
        dn=entry.dn,
        siret=first_rdn_value(str(entry.get("apexStructureRef") or "")),
        status=ReviewStatus(str(entry.get("apexStatus"))),
        opened_at=from_generalized_time(entry.get("apexReviewOpenedAt")),
        closed_at=from_generalized_time(closed) if closed else None,
        opened_by=str(entry.get("apexCreatedBy")) if entry.get("apexCreatedBy") else None,
        decisions=decisions,
        reminders={int(str(v)) for v in entry.all("apexReviewReminder")},
    )


class ReviewStore:
    def __init__(self, directory: Directory, layout: Layout) -> None:
        self.directory = directory
        self.layout = layout

    # ------------------------------------------------------------------ read
    def _search(self, filt: str, attrs: list[str] = REVIEW_ATTRS) -> list[Review]:
        try:
            entries = self.directory.search(self.layout.reviews_dn, filt, attrs, scope="one")
        except NotFound:  # `apexdir init` not run since the upgrade: no review yet
            return []
        return sorted((review_from(e) for e in entries), key=lambda r: r.opened_at)

    def of_structure(self, siret: str) -> list[Review]:
        """The structure's reviews, oldest first."""
        return self._search(
            f.and_(
                f.eq("objectClass", REVIEW_CLASS),
                f.eq("apexStructureRef", self.layout.structure_dn(siret)),
            )
        )

    def latest(self) -> dict[str, Review]:
        """Every structure's latest review, in one search (the daemon's pass), without its
        decisions (a large structure's review holds thousands)."""
        out: dict[str, Review] = {}
        for review in self._search(f.eq("objectClass", REVIEW_CLASS), LIGHT_ATTRS):
            out[review.siret] = review  # oldest first: the last one stays
        return out

    def active(self) -> list[Review]:
        """The reviews open or overdue, every structure, in one search."""
        return self._search(
            f.and_(
                f.eq("objectClass", REVIEW_CLASS),
                f.or_(
                    f.eq("apexStatus", ReviewStatus.OPEN), f.eq("apexStatus", ReviewStatus.OVERDUE)
                ),
            )
        )

    def finished_before(self, moment: datetime) -> list[Review]:
        """The reviews completed or closed before `moment` (without their decisions)."""
        return self._search(
            f.and_(f.eq("objectClass", REVIEW_CLASS), f.le("apexReviewClosedAt", moment)),
            [*LIGHT_ATTRS, "apexReviewClosedAt"],
        )

    def structures(self) -> list[tuple[str, StructureStatus, datetime | None]]:
        """(SIRET, status, creation time) of every structure, in one search."""
        entries = self.directory.search(
            self.layout.structures_dn,
            f.eq("objectClass", "apexStructure"),
            ["apexSiret", "apexStatus", "createTimestamp"],
            scope="one",
        )
        out = []
        for e in entries:
            created = e.get("createTimestamp")
            out.append(
                (
                    str(e.get("apexSiret")),
                    StructureStatus(str(e.get("apexStatus") or StructureStatus.OPEN)),
                    from_generalized_time(created) if created else None,
                )
            )
        return out

    # ------------------------------------------------------------------ write
    def add(self, review: Review) -> None:
        attrs = {
            "objectClass": ["top", REVIEW_CLASS],
            "cn": review.id,
            "apexStructureRef": self.layout.structure_dn(review.siret),
            "apexStatus": review.status,
            "apexReviewOpenedAt": to_generalized_time(review.opened_at),
        }
        if review.opened_by:
            attrs["apexCreatedBy"] = review.opened_by
        if review.closed_at:
            attrs["apexReviewClosedAt"] = to_generalized_time(review.closed_at)
        dn = self.layout.review_dn(review.id)
        try:
            self.directory.add(dn, attrs)
        except NotFound:  # the branch is missing: `apexdir init` not run since the upgrade
            branch = {"objectClass": ["organizationalUnit"], "ou": "reviews"}
            with contextlib.suppress(Conflict):  # another node made it meanwhile
                self.directory.add(self.layout.reviews_dn, branch)
            self.directory.add(dn, attrs)
        review.dn = dn

    def delete(self, review: Review) -> None:
        with contextlib.suppress(NotFound):
            self.directory.delete(review.dn)

    def add_decisions(self, review: Review, decisions: list[ReviewDecision]) -> None:
        """Record decisions; an earlier decision of the same pair is replaced."""
        if not decisions:
            return
        new = {(d.identifier.lower(), d.habilitation) for d in decisions}
        old = [
            decision_value(d)
            for d in review.decisions
            if (d.identifier.lower(), d.habilitation) in new
        ]
        changes: dict[str, list[tuple[str, list[object]]]] = {"apexReviewDecision": []}
        if old:
            changes["apexReviewDecision"].append(("delete", list(old)))
        changes["apexReviewDecision"].append(("add", [decision_value(d) for d in decisions]))
        self.directory.modify(review.dn, changes)
        review.decisions = [
            d for d in review.decisions if (d.identifier.lower(), d.habilitation) not in new
        ] + decisions

    def mark_reminder(self, review: Review, day: int) -> bool:
        """Note that day `day`'s mail went; False if another pass noted it first."""
        if not self.directory.swap(review.dn, {"apexReviewReminder": [("add", [str(day)])]}):
            return False
        review.reminders.add(day)
        return True

    def unmark_reminder(self, review: Review, day: int) -> None:
        with contextlib.suppress(Conflict, NotFound):
            self.directory.modify(review.dn, {"apexReviewReminder": [("delete", [str(day)])]})
        review.reminders.discard(day)

    def swap_status(
        self, review: Review, new: ReviewStatus, *, closed_at: datetime | None = None
    ) -> bool:
        """`review.status` → `new` if nobody changed it meanwhile; False otherwise."""
        changes: dict[str, list[tuple[str, list[object]]]] = {
            "apexStatus": [("delete", [review.status]), ("add", [new])]
        }
        if closed_at is not None:
            changes["apexReviewClosedAt"] = [("replace", [to_generalized_time(closed_at)])]
        try:
            self.directory.modify(review.dn, changes)
        except (Conflict, NotFound):
            return False
        review.status = new
        review.closed_at = closed_at or review.closed_at
        return True
