"""A directory that stops answering during the compare-and-swap that spends a try is
reported as unavailable (exit 5), never as a wrong or refused code (issue 20 item 1).

slapd is really stopped (SIGSTOP: it accepts the request and never answers) for the one
swap, then continued; nothing of LDAP is mocked. Before the fix, the swap's `Unavailable`
was taken for a lost race: the record was read again once slapd was back, and the person
was told their code was wrong."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.directory.server import SlapdInstance
from apexdir.errors import Unavailable
from apexdir.runtime import Runtime
from apexdir.workflows import auth
from tests.auth.conftest import Partner, codes_mailed, sms_codes
from tests.helpers import PASSWORD, Cli
from tests.hung import SwapHang, hang_swaps

NEW = "N0uveau-S3cret!x"


@pytest.fixture
def swap_hang(monkeypatch: pytest.MonkeyPatch, slapd: SlapdInstance) -> SwapHang:
    return hang_swaps(monkeypatch, slapd)


@contextlib.contextmanager
def short_deadline(config_file: Path) -> Iterator[None]:
    """The CLI waits 2 s for an answer (15 s by default) while the block runs: only around
    the hung call, since slapd hashing a password on a loaded machine may take longer."""
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text.replace("[smtp]", "receive_timeout = 2\n\n[smtp]"), "utf-8")
    try:
        yield
    finally:
        config_file.write_text(text, encoding="utf-8")


def test_a_hung_directory_during_the_login_code_swap_is_unavailable(
    app_cli: Cli, config_file: Path, partner: Partner, swap_hang: SwapHang
) -> None:
    """`login verify` exits 5 (directory unavailable), not 1 with « code incorrect »."""
    app_cli.ok("login", partner.identifier, input=PASSWORD + "\n")
    (code,) = codes_mailed(app_cli, partner.mail)
    wrong = "000000" if code != "000000" else "111111"
    swap_hang.armed = True
    with short_deadline(config_file):
        stderr = app_cli.fails(5, "login", "verify", partner.identifier, wrong)
    assert "unavailable" in stderr and "incorrect" not in stderr
    assert swap_hang.hung_at == [partner.dn]


def test_a_hung_directory_during_the_reset_code_swap_is_unavailable(
    app_cli: Cli, config_file: Path, mobile_partner: Partner, sinks: Any, swap_hang: SwapHang
) -> None:
    """`password reset` exits 5, not 1 with « code ou lien invalide »; the code still
    works once the directory answers again (the try it cost was spent, as a try is)."""
    app_cli.ok("password", "forgot", mobile_partner.identifier)
    (code,) = sms_codes(app_cli, sinks, mobile_partner.mobile or "")
    swap_hang.armed = True
    with short_deadline(config_file):
        stderr = app_cli.fails(5, "password", "reset", mobile_partner.identifier, code,
                               input=f"{NEW}\n{NEW}\n")  # fmt: skip
    assert "unavailable" in stderr and "invalide" not in stderr
    assert swap_hang.hung_at == [mobile_partner.dn]
    done = app_cli.ok("password", "reset", mobile_partner.identifier, code,
                      input=f"{NEW}\n{NEW}\n")  # fmt: skip
    assert done["message"] == auth.RESET_DONE


def test_the_swap_raises_unavailable_in_the_library(
    rt: Runtime, partner: Partner, swap_hang: SwapHang
) -> None:
    """`Directory.swap` itself: a lost race is False, an unanswered request raises."""
    fast = Runtime(rt.settings.model_copy(update={"ldap": rt.settings.ldap.interactive()}))
    swap_hang.armed = True
    try:
        with pytest.raises(Unavailable):
            fast.directory.swap(partner.dn, {"apexLoginCode": [("add", ["x"])]})
    finally:
        fast.close()
    assert not rt.directory.swap(partner.dn, {"apexLoginCode": [("delete", ["y"])]})
