"""SPEC §4 with the configured lengths, checked before anything is read or written: a
password change, a reset, the creation form. A module of its own: the creation form must
not import the `auth` package (its import reaches `precreation`, which imports the form)."""

from __future__ import annotations

from apexdir.rules.passwords import enforce_password
from apexdir.runtime import Runtime


def enforce_policy(rt: Runtime, new: str, confirmation: str) -> None:
    policy = rt.settings.policy
    enforce_password(new, confirmation, min_length=policy.password_min_length,
                     max_length=policy.password_max_length)  # fmt: skip
