"""slapd itself enforces SPEC §4, whatever the client: C tools, no apexdir in between."""

from __future__ import annotations

import ctypes
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apexdir.config import PolicySettings
from apexdir.directory.hashing import pbkdf2_sha512
from apexdir.directory.ppolicy import authenticate, change_password
from apexdir.directory.provision import initialize
from apexdir.directory.pwcheck import build, module_arg
from apexdir.directory.server import SlapdInstance
from apexdir.rules.passwords import check_password
from apexdir.runtime import Runtime
from tests.auth.conftest import Partner
from tests.conftest import admin
from tests.helpers import PASSWORD

STRONG = "Aut0risé-Fort!42"
WEAK = "faible"


def ldap(slapd: SlapdInstance, tool: str, *args: str, input: str | None = None,
         ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run([tool, "-x", "-H", slapd.uri, "-e", "ppolicy", *args], input=input,
                          capture_output=True, text=True)  # fmt: skip


def modify_as_self(slapd: SlapdInstance, who: Partner, current: str, value: str,
                   ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """A plain LDAP modify of userPassword by the user himself (ldapmodify)."""
    change = f"dn: {who.dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {value}\n"
    return ldap(slapd, "ldapmodify", "-D", who.dn, "-w", current, input=change)


def passwd_as_self(slapd: SlapdInstance, who: Partner, current: str, new: str,
                   ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """The password-modify extended operation by the user himself (ldappasswd)."""
    return ldap(slapd, "ldappasswd", "-D", who.dn, "-w", current, "-a", current, "-s", new)


def can_bind(slapd: SlapdInstance, who: Partner, password: str) -> bool:
    return ldap(slapd, "ldapwhoami", "-D", who.dn, "-w", password).returncode == 0


def test_plain_modify_by_the_user_is_checked(slapd: SlapdInstance, partner: Partner) -> None:
    """ldapmodify: a weak password is refused with the rules' French messages; a strong one
    is accepted; a value hashed by the client (slapd cannot check it) is refused."""
    weak = modify_as_self(slapd, partner, PASSWORD, "abcdefghijklmn")
    assert weak.returncode == 19, weak.stderr
    assert "au moins une lettre majuscule" in weak.stderr
    assert "au moins 2 chiffres" in weak.stderr
    assert "Password fails quality checks" in weak.stdout + weak.stderr
    hashed = modify_as_self(slapd, partner, PASSWORD, pbkdf2_sha512(WEAK))
    assert hashed.returncode == 19, hashed.stderr
    assert can_bind(slapd, partner, PASSWORD) and not can_bind(slapd, partner, WEAK)
    strong = modify_as_self(slapd, partner, PASSWORD, STRONG)
    assert strong.returncode == 0, strong.stderr
    assert can_bind(slapd, partner, STRONG)


def test_password_modify_operation_by_the_user_is_checked(
    slapd: SlapdInstance, partner: Partner
) -> None:
    """ldappasswd (RFC 3062): the same rules, through the same module."""
    weak = passwd_as_self(slapd, partner, PASSWORD, "ABCDEFGHIJKL12!")
    assert weak.returncode != 0
    assert "au moins une lettre minuscule" in weak.stdout + weak.stderr
    long = passwd_as_self(slapd, partner, PASSWORD, "Tr0p-Long-P0ur-La-Regle!")
    assert "entre 12 et 20 caractères" in long.stdout + long.stderr
    assert passwd_as_self(slapd, partner, PASSWORD, STRONG).returncode == 0
    assert can_bind(slapd, partner, STRONG)


def test_accented_passwords_count_characters_not_bytes(
    slapd: SlapdInstance, partner: Partner
) -> None:
    """20 characters of which some are two bytes in UTF-8: accepted, as apexdir accepts it."""
    accented = "Éléphant-Bleu-àé-42!"
    assert len(accented) == 20 and len(accented.encode()) > 20
    assert check_password(accented) == []
    assert passwd_as_self(slapd, partner, PASSWORD, accented).returncode == 0
    assert can_bind(slapd, partner, accented)


def test_apexdirs_own_account_cannot_bypass_the_rules(rt: Runtime, partner: Partner) -> None:
    """A reset by apexdir's account goes through the module and the history too."""
    ldap_settings = rt.settings.ldap
    refusal = change_password(ldap_settings, as_dn=ldap_settings.bind_dn,
                              as_password=ldap_settings.password(), target_dn=partner.dn,
                              new_password="weakpassword")  # fmt: skip
    assert refusal is not None and refusal.error == "quality"
    refusal = change_password(ldap_settings, as_dn=ldap_settings.bind_dn,
                              as_password=ldap_settings.password(), target_dn=partner.dn,
                              new_password=PASSWORD)  # fmt: skip
    assert refusal is not None and refusal.error == "in_history"


def test_history_of_ten(slapd: SlapdInstance, partner: Partner) -> None:
    """The 10 previous passwords are refused by slapd; the 11th back is allowed again."""
    current = PASSWORD
    chain = [f"Hist0ry-{i:02d}!ab" for i in range(11)]
    for new in chain[:10]:
        assert passwd_as_self(slapd, partner, current, new).returncode == 0
        current = new
    # current = chain[9]; the 10 before it: PASSWORD, chain[0..8]
    for old in (PASSWORD, chain[0], chain[8], chain[9]):
        refused = passwd_as_self(slapd, partner, current, old)
        assert refused.returncode != 0
        assert "error=8 (New password is in list of old passwords)" in refused.stdout
    assert passwd_as_self(slapd, partner, current, chain[10]).returncode == 0
    # PASSWORD is now the 11th back: out of the history.
    assert passwd_as_self(slapd, partner, chain[10], PASSWORD).returncode == 0


def test_lockout_after_five_failures_for_fifteen_minutes(
    slapd: SlapdInstance, partner: Partner, rt: Runtime, policy_override: Callable[..., None]
) -> None:
    """20 wrong binds lock the account (even the right password then fails) for the policy's
    duration (900 s by default; 2 s here to see it end): the backstop for raw LDAP binds,
    above what the portal's growing delays let strangers try (workflows/guard.py)."""
    entry = rt.directory.get(rt.layout.default_policy_dn, ["pwdMaxFailure", "pwdLockoutDuration"])
    assert entry is not None
    assert (str(entry.get("pwdMaxFailure")), str(entry.get("pwdLockoutDuration"))) == ("20", "900")
    policy_override(pwdLockoutDuration=2)
    for _ in range(19):
        assert not can_bind(slapd, partner, "Wr0ng-Passw0rd!")
    assert can_bind(slapd, partner, PASSWORD)  # 19 failures: not yet (and the count resets)
    for _ in range(20):
        assert not can_bind(slapd, partner, "Wr0ng-Passw0rd!")
    locked_at = time.monotonic()
    locked = ldap(slapd, "ldapwhoami", "-D", partner.dn, "-w", PASSWORD)
    assert locked.returncode != 0 and "Account locked" in locked.stdout + locked.stderr
    assert authenticate(rt.settings.ldap, partner.dn, PASSWORD).reason == "locked"
    # The lock ends 2 s after it began (slapd counts whole seconds): asked again until then,
    # with the right password (a refusal for the lock is not a new failure).
    assert _eventually(lambda: authenticate(rt.settings.ldap, partner.dn, PASSWORD).reason,
                       "ok", until=locked_at + 2.5)  # fmt: skip


def _eventually(probe: Callable[[], object], wanted: object, until: float) -> bool:
    """Whether `probe()` gives `wanted` by the monotonic time `until` (asked every 0.1 s)."""
    while (got := probe()) != wanted and time.monotonic() < until:
        time.sleep(0.1)
    return got == wanted or probe() == wanted


def test_expiry(slapd: SlapdInstance, partner: Partner, rt: Runtime,
                policy_override: Callable[..., None]) -> None:  # fmt: skip
    """Past pwdMaxAge (seconds here, 90 days by default) the password no longer binds."""
    entry = rt.directory.get(rt.layout.default_policy_dn, ["pwdMaxAge"])
    assert entry is not None and str(entry.get("pwdMaxAge")) == str(90 * 86400)
    policy_override(pwdMaxAge=1)
    # Expired once pwdChangedTime (set with the account, before this test) is over 1 s old.
    assert _eventually(lambda: can_bind(slapd, partner, PASSWORD), False,
                       until=time.monotonic() + 2.1)  # fmt: skip
    expired = ldap(slapd, "ldapwhoami", "-D", partner.dn, "-w", PASSWORD)
    assert expired.returncode != 0 and "Password expired" in expired.stdout + expired.stderr
    assert authenticate(rt.settings.ldap, partner.dn, PASSWORD).reason == "expired"


def test_init_upgrades_an_older_policy(slapd: SlapdInstance, rt: Runtime) -> None:
    """`apexdir init` on a directory whose policy predates the check module brings it in line."""
    dn = rt.layout.default_policy_dn
    with admin(slapd) as directory:
        directory.replace(dn, pwdCheckModule=None, pwdCheckModuleArg=None)
        directory.replace(dn, objectClass=["organizationalRole", "pwdPolicy"],
                          pwdMaxLength="20", pwdCheckQuality="1")  # fmt: skip
    try:
        initialize(rt.directory, rt.layout, rt.settings.policy)
        entry = rt.directory.get(dn, ["objectClass", "pwdCheckModule", "pwdCheckModuleArg",
                                      "pwdMaxLength", "pwdCheckQuality"])  # fmt: skip
        assert entry is not None
        assert "pwdPolicyChecker" in [str(c) for c in entry.all("objectClass")]
        assert str(entry.get("pwdCheckModule")) == "apex_pwcheck.so"
        assert str(entry.get("pwdCheckQuality")) == "2"
        assert entry.all("pwdMaxLength") == []
    finally:
        initialize(rt.directory, rt.layout, rt.settings.policy)


# ---------------------------------------------------------------- the module vs apexdir's rules
@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[str]]:
    """The compiled module, called directly (ctypes) as slapd calls it."""
    library = ctypes.CDLL(str(build(tmp_path_factory.mktemp("pwcheck"))))
    function = library.check_password
    function.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_void_p,
                         ctypes.c_void_p]  # fmt: skip

    class Berval(ctypes.Structure):
        _fields_ = [("bv_len", ctypes.c_ulong), ("bv_val", ctypes.c_char_p)]

    text = module_arg(12, 20).encode()
    arg = Berval(len(text), text)

    def check(password: str) -> list[str]:
        error = ctypes.c_char_p()
        code = function(password.encode(), ctypes.byref(error), None, ctypes.byref(arg))
        if code == 0:
            return []
        return (error.value or b"").decode().split("; ")

    return check


SAMPLES = [
    PASSWORD, STRONG, WEAK, "", "abcdefghijklmnop", "ABCDEFGHIJKL12!", "Abcdefghijkl12",
    "Abcdefghijk!1", "Éléphant-Bleu-àé-42!", "ÉLÉPHANT-BLEU-42!", "éléphant-bleu-42!",
    "Пароль-Надёжный-12", "Κωδικός-Ισχυρός-34", "Abc def ghi 12", "Abcdefgh\tij12!",
    "Abcdefgh\u200bij12!", "Tr0p-Long-P0ur-La-Regle!", "Aa1!" * 5, "Aa1!" * 5 + "x",
]  # fmt: skip


@pytest.mark.parametrize("password", SAMPLES)
def test_module_agrees_with_apexdir(module: Callable[[str], list[str]], password: str) -> None:
    """slapd's module and apexdir give the same verdict and the same messages."""
    assert module(password) == check_password(password)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", categories=["Lu", "Ll", "Nd", "Po", "Pd",
                                                                  "Sm", "Zs", "Cc"],
                                      max_codepoint=0x4FF), max_size=24))  # fmt: skip
def test_module_agrees_on_latin_greek_cyrillic(
    module: Callable[[str], list[str]], password: str
) -> None:
    """Generated passwords (Latin, Greek, Cyrillic, digits, punctuation, controls)."""
    if "\x00" in password:  # slapd hands the module a C string: NUL cannot reach it
        return
    assert module(password) == check_password(password)


def test_module_compiles_without_warnings(tmp_path: Path) -> None:
    """-Wall -Wextra -Werror: the set-up build drops -Werror, the source must not need it."""
    from apexdir.directory.pwcheck import CFLAGS, SOURCE

    out = subprocess.run(["gcc", *CFLAGS, "-Werror", "-o", str(tmp_path / "m.so"), str(SOURCE)],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr


def test_module_is_built_into_the_instance(slapd: SlapdInstance) -> None:
    """SlapdInstance compiled it at set-up and put its folder on slapd's modulepath."""
    assert (slapd.module_dir / "apex_pwcheck.so").exists()
    conf = Path(slapd.conf_file).read_text()
    assert f"modulepath      /usr/lib/ldap:{slapd.module_dir}" in conf


def test_policy_entry_names_the_module() -> None:
    """The default policy: checker class, module by bare name, quality 2, SPEC §4 limits."""
    from apexdir.directory.layout import Layout
    from apexdir.directory.provision import policy_entries

    layout = Layout("dc=x")
    policy = policy_entries(layout, PolicySettings())[layout.default_policy_dn]
    assert "pwdPolicyChecker" in policy["objectClass"]
    assert policy["pwdCheckModule"] == ["apex_pwcheck.so"]
    assert policy["pwdCheckModuleArg"] == ["min=12 max=20 digits=2"]
    assert policy["pwdCheckQuality"] == ["2"]
    assert "pwdMaxLength" not in policy
