"""Login with a mailed code, forgotten password, reset and change (SPEC §4, §7).

One module per step: `signin` (the password, checked by slapd), `codes` (the mailed login
code), `recovery` (forgotten password: the SMS code or the mailed link, then the reset),
`passwords` (the partner's own change); `anonymous` is what the anonymous steps share (the
identifier, the decoy, the try spent before judging). The one-time secrets themselves are
kept on the account entry by `apexdir.directory.onetime`; the words for counts and moments
are `apexdir.rules.wording`.

- The password is always checked by slapd (a bind), never by comparing hashes here; what
  ppolicy decided (expired, locked, grace logins, expiring soon) reaches the user in French.
- Codes and links are single use, short-lived and stored only as records of their hashes on
  the account entry (`apexdir.rules.onetime`), so every node sees them.
- Every answer to a code or link spends a try *before* it is judged (compare-and-swap on
  the entry): parallel guesses get no more tries than sequential ones. A directory that
  does not answer during that swap is reported as unavailable, never as a wrong code.
- Anonymous steps (login, verify, forgot, reset) answer an unknown identifier exactly as a
  known one with a wrong secret: same text, same exit code, and the same work, hence about
  the same time (issue 12; `python -m benchmarks.timing` measures it). An unknown
  identifier's steps run against a decoy entry (`cn=decoy,ou=system`, made by `apexdir
  init`): the same reads, and a real bind with the typed password, so slapd hashes it and
  records the failure as it does for a partner's account. `forgot` answers after one row in
  the state store, whatever the identifier; the outbox job looks it up and sends the SMS or
  the mail (`process_reset_request`). One exception, by design: "locked" is told even for a
  wrong password, since ppolicy refuses a locked account before checking; it takes 5
  failures on an existing account to see it.

Forgotten password and enumeration. SPEC §7 shows the mobile masked (06-XX-XX-32-34) after
the request, and also wants the same answer whether the identifier exists or not: showing a
number proves that the account exists and has a mobile. The anonymous answer is therefore
always the same generic text. The masked number is shown only where it reveals nothing the
requester may not already see: to a DGFiP agent helping a partner (`actor` given and an
agent: agents read the whole number with `account show`).

Captcha. The portal passes its captcha verdict: `forgot(…, captcha_ok=…)`
refuses to act on False. The CLI passes True: it runs on an operator's host, not on the
Internet.
"""

from __future__ import annotations

from apexdir.rules.identifiers import clean_identifier
from apexdir.workflows.auth.anonymous import INVALID_CREDENTIALS
from apexdir.workflows.auth.codes import (
    CODE_EXPIRED,
    CODE_NONE,
    CODE_SENT,
    Verified,
    resend_code,
    verify,
)
from apexdir.workflows.auth.passwords import CHANGE_DONE, change
from apexdir.workflows.auth.recovery import (
    FORGOT_ANSWER,
    RESET_DONE,
    RESET_PATH,
    RESET_REFUSED,
    ResetAnswer,
    forgot,
    link_usable,
    process_reset_request,
    reset,
    reset_with_link,
)
from apexdir.workflows.auth.signin import confirm_password, login

__all__ = [
    "CHANGE_DONE",
    "CODE_EXPIRED",
    "CODE_NONE",
    "CODE_SENT",
    "FORGOT_ANSWER",
    "INVALID_CREDENTIALS",
    "RESET_DONE",
    "RESET_PATH",
    "RESET_REFUSED",
    "ResetAnswer",
    "Verified",
    "change",
    "clean_identifier",
    "confirm_password",
    "forgot",
    "link_usable",
    "login",
    "process_reset_request",
    "resend_code",
    "reset",
    "reset_with_link",
    "verify",
]
