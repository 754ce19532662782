"""`--offline OUT.ldif`: LDIF that slapadd loads into a fresh directory, overlays' work included."""

from __future__ import annotations

import gc
import itertools
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apexdir.bulk.run import Options, import_file
from apexdir.directory.connection import Directory
from apexdir.directory.provision import initialize
from apexdir.directory.server import SlapdInstance
from apexdir.runtime import Runtime
from apexdir.workflows.actors import AGENT
from apexdir.workflows.catalogue import add_application, add_profile
from benchmarks.dataset import generate
from tests.bulk.conftest import CSV_ROWS, Tree, whoami, write_csv
from tests.conftest import make_settings


@pytest.fixture
def fresh(tmp_path: Path, sinks: Any) -> Iterator[tuple[SlapdInstance, Runtime]]:
    """A new directory of its own (durable writes off), initialized like `apexdir init`."""
    instance = SlapdInstance(tmp_path / "fresh", dbnosync=True)
    instance.start()
    settings = make_settings(instance, sinks, tmp_path / "state.db")
    with Directory(settings.ldap) as directory:
        initialize(directory, instance.layout, settings.policy)
    runtime = Runtime(settings, operator="tester")
    yield instance, runtime
    runtime.close()
    instance.destroy()


def slapadd(instance: SlapdInstance, path: Path) -> None:
    """The documented procedure: stop slapd, slapadd, start slapd again."""
    instance.stop()
    result = subprocess.run(
        [
            "/usr/sbin/slapadd",
            "-q",
            "-w",
            "-f",
            str(instance.conf_file),
            "-b",
            instance.base_dn,
            "-l",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    instance.start()


def test_offline_csv_loads_with_slapadd(
    fresh: tuple[SlapdInstance, Runtime], tmp_path: Path
) -> None:
    """Accounts are there after slapadd, with memberOf as the overlay would have set it."""
    instance, rt = fresh
    out = tmp_path / "out.ldif"
    source = write_csv(tmp_path / "in.csv", CSV_ROWS)
    report = import_file(rt, AGENT, source, options=Options(offline=out))
    assert report["members_file"] is None
    assert out.read_text().startswith("# apexdir import of in.csv")
    rt.close()
    slapadd(instance, out)
    tree = Tree(instance)
    accounts = tree.accounts()
    assert len(accounts) == 5 and tree.structures() == 2 and tree.services() == 3
    consult = instance.layout.profile_dn("ADELIE", "CONSULT").lower()
    assert consult in {d.lower() for d in accounts["marie.martin2-px"].all("memberOf")}
    # The directory works on them as on any entry: refint drops a deleted account.
    members = tree.search(consult, "(objectClass=*)", ["member"])[0].all("member")
    assert len(members) == 3


def test_offline_ldif_with_passwords(fresh: tuple[SlapdInstance, Runtime], tmp_path: Path) -> None:
    """pwdChangedTime (ppolicy) is carried; the hashed passwords bind."""
    instance, rt = fresh
    data = generate(instance.layout, 30)
    source = tmp_path / "data.ldif"
    data.write(str(source))
    out = tmp_path / "out.ldif"
    import_file(rt, AGENT, source, options=Options(offline=out))
    assert gc.get_freeze_count() == 0  # what the run set apart from the collector is back
    rt.close()
    slapadd(instance, out)
    accounts = Tree(instance).accounts()
    assert len(accounts) == 30
    assert all(a.get("pwdChangedTime") for a in accounts.values())
    assert sum(1 for a in accounts.values() if a.all("memberOf")) == data.habilitations
    uid = data.identifiers()[3]
    password = data.passwords[data.password_of[uid]]
    assert whoami(instance.uri, instance.layout.account_dn(uid), password) == 0


def test_habilitations_on_existing_profiles_go_to_a_second_file(
    fresh: tuple[SlapdInstance, Runtime], tmp_path: Path
) -> None:
    """slapadd cannot change a profile that exists: those members are applied online after."""
    instance, rt = fresh
    add_application(rt, AGENT, "ADELIE", "Application ADELIE")
    add_profile(rt, AGENT, "ADELIE", "CONSULT")
    rows = [r for r in CSV_ROWS if not r.startswith("profile")]
    rows = [r.replace("|ADELIE/SAISIE", "") for r in rows]
    out = tmp_path / "out.ldif"
    report = import_file(
        rt, AGENT, write_csv(tmp_path / "in.csv", rows), options=Options(offline=out)
    )
    members_file = Path(report["members_file"])
    assert report["deferred_habilitations"] == 3
    rt.close()
    slapadd(instance, out)
    result = subprocess.run(
        [
            "ldapmodify",
            "-x",
            "-H",
            instance.uri,
            "-D",
            instance.layout.apexdir_dn,
            "-w",
            instance.apexdir_password(),
            "-f",
            str(members_file),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    accounts = Tree(instance).accounts()
    consult = instance.layout.profile_dn("ADELIE", "CONSULT").lower()
    holders = sorted(
        uid for uid, a in accounts.items() if consult in {d.lower() for d in a.all("memberOf")}
    )
    assert holders == ["cathy.noel-px", "marie.martin-px", "marie.martin2-px"]


# ---------------------------------------------------------------------- parallel reading
BAD_RECORDS = """
dn: uid=bad.mail-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: bad.mail-px
sn: Mail
givenName: Bad
mail: not-an-address
apexAccountType: administrateur
apexStructureRef: {structure}

dn: uid=bad.mobile-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: bad.mobile-px
sn: Mobile
givenName: Bad
mail: bad.mobile@example.org
mobile: +33112345678
apexAccountType: administrateur
apexStructureRef: {structure}

dn: uid=bad.time-px,ou=people,{base}
objectClass: inetOrgPerson
objectClass: apexAccount
uid: bad.time-px
sn: Time
givenName: Bad
mail: bad.time@example.org
apexAccountType: administrateur
apexStructureRef: {structure}
apexValidatedAt: 20261301000000Z
pwdChangedTime: 20260230000000Z
userPassword: {{SSHA}}c2FsdHNhbHQ=

dn: uid=no-colon,ou=people,{base}
this line has no colon

dn: uid=changed-px,ou=people,{base}
changetype: delete
"""


def _source(accounts: int) -> tuple[str, Any]:
    """A generated data set with bad records spread through it, as one LDIF text."""
    from apexdir.directory.layout import Layout
    from apexdir.directory.server import DEFAULT_BASE_DN

    layout = Layout(DEFAULT_BASE_DN)
    data = generate(layout, accounts)
    records = "".join(data.ldif_text()).split("\n\n")
    bad = BAD_RECORDS.format(base=layout.base_dn, structure=data.records[0][0]).strip("\n")
    for at in (1, len(records) // 3, len(records) - 1):
        records.insert(at, bad.replace("-px,", f"{at}-px,").replace("-px\n", f"{at}-px\n"))
    return "\n\n".join(records), layout


@pytest.fixture(scope="module")
def pool() -> Iterator[Any]:
    """The checking pool's processes, started clean (spawn: the test process has threads)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from apexdir.bulk.checks import Pool

    executor = ProcessPoolExecutor(2, mp_context=get_context("spawn"))
    yield Pool(executor, 2, forks=False)  # the pieces are sent to them
    executor.shutdown()


def _stub_runtime(layout: Any) -> Any:
    from types import SimpleNamespace

    from apexdir.config import DEFAULT_CATEGORIES

    return SimpleNamespace(layout=layout, settings=SimpleNamespace(categories=DEFAULT_CATEGORIES))


def test_pieces_begin_at_records_and_count_lines() -> None:
    """Each piece starts a record after an empty line, with that line's number."""
    from apexdir.bulk.ldiffile import pieces

    text, _ = _source(60)
    bounds = pieces(text, 13)
    assert len(bounds) > 5
    assert bounds[0][:1] == (0,) and bounds[-1][1] == len(text)
    for (_, end, _), (start, _, line) in itertools.pairwise(bounds):
        assert end == start and text[start - 2 : start] == "\n\n"
        assert line == text.count("\n", 0, start) + 1


def test_parallel_read_is_one_pass_read(pool: Any) -> None:
    """Items, problems with their lines and counts are those of one pass; the accounts'
    own checks, run by the workers, are those the validator would run."""
    from apexdir.bulk import ldiffile
    from apexdir.bulk.checks import check_accounts
    from apexdir.bulk.items import AccountItem

    text, layout = _source(120)
    one = ldiffile.parse_text(text, layout)
    check_accounts([i for i in one.items if isinstance(i, AccountItem)])
    split = ldiffile.read_parallel(text, layout, pool, 11)
    assert split.items == one.items
    assert split.problems == one.problems and len(one.problems) == 6
    assert split.records == one.records
    bad = [i for i in split.items if isinstance(i, AccountItem) and i.identifier.startswith("bad")]
    assert len(bad) == 9 and all(i.checked and (isinstance(i.checked[0], str) or i.checked[1])
                                 for i in bad)  # fmt: skip


def test_a_forked_worker_reads_its_piece_of_the_inherited_text() -> None:
    """What a worker forked with the text (`Pool.start`) sends back is its piece, unpacked
    into the items and problems this process would have read, at the same lines."""
    from apexdir.bulk import ldiffile
    from apexdir.bulk.checks import INHERITED

    text, layout = _source(60)
    a, b, line = ldiffile.pieces(text, 3)[1]
    INHERITED["text"] = text  # as the fork leaves it in the worker
    try:
        packed = ldiffile.read_inherited(a, b, line, layout)
    finally:
        INHERITED.clear()
    mine = ldiffile.read_piece(text[a:b], line, layout)
    theirs = ldiffile.unpack(packed)
    assert theirs.items == mine.items and theirs.problems == mine.problems
    assert theirs.records == mine.records > 0


def test_errors_found_in_workers_carry_their_lines(pool: Any) -> None:
    """The validator reports the same reasons at the same lines, whoever checked the rows."""
    from datetime import UTC, datetime

    from apexdir.bulk import ldiffile
    from apexdir.bulk.snapshot import Snapshot
    from apexdir.bulk.validate import validate

    text, layout = _source(120)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    rt = _stub_runtime(layout)
    one, split = ldiffile.parse_text(text, layout), ldiffile.read_parallel(text, layout, pool, 7)
    plans = [
        validate(rt, parsed.items, Snapshot(), now=now, creator="import:test")
        for parsed in (one, split)
    ]
    assert plans[0].problems == plans[1].problems
    lines = text.split("\n")
    reasons = {p.reason.split(":")[0].strip() for p in plans[1].problems}
    assert {"Adresse mail invalide", "Numéro de mobile invalide", "apexValidatedAt"} <= reasons
    for problem in plans[1].problems:
        assert lines[problem.line - 1].startswith("dn: uid=bad.")
    assert len(plans[0].accounts) == len(plans[1].accounts) == 120


def test_the_fast_paths_of_the_rules_agree_with_them() -> None:
    """A mobile in French E.164 and a plain GeneralizedTime skip the slow parse, not the rule."""
    from apexdir.errors import Invalid
    from apexdir.rules.contact import _normalized, normalize_mobile
    from apexdir.rules.text import _parsed_time, generalized_time

    def outcome(check: Any, *args: str) -> tuple[str, str]:
        try:
            return "ok", check(*args)
        except Invalid as exc:
            return "invalid", str(exc)

    for number in ("+33612345678", "+33712345678", "+33112345678", "+33912345678",
                   "+33012345678", "+3361234567", "+33 612345678", "0612345678"):  # fmt: skip
        assert outcome(normalize_mobile, number) == outcome(_normalized, number), number
    for value in ("20260115090000Z", "20240229235959Z", "20230229000000Z", "20261301000000Z",
                  "20260101240000Z", "20260101000060Z", "00000101000000Z", "20260101000000",
                  "20260101000000.5Z", " 20260101000000Z"):  # fmt: skip
        assert outcome(generalized_time, "t", value) == outcome(_parsed_time, "t", value)


def test_the_forked_writer_writes_what_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half the records rendered by a forked copy: the same bytes as one process writes, and
    as `ldif.dump` of them (which leaves control characters as they are)."""
    from datetime import UTC, datetime

    from apexdir.bulk import ldiffile, load
    from apexdir.bulk.snapshot import Snapshot
    from apexdir.bulk.validate import validate
    from apexdir.directory import ldif

    text, layout = _source(300)
    parsed = ldiffile.parse_text(text, layout)
    plan = validate(_stub_runtime(layout), parsed.items, Snapshot(),
                    now=datetime(2026, 12, 1, tzinfo=UTC), creator="import:test")  # fmt: skip
    plan.accounts[5].attrs["description"] = [" leading space", "trailing ", ":colon", "ok"]
    plan.accounts[7].attrs["displayName"] = "Émilie Noël"
    monkeypatch.setattr(load, "FORK_FROM", 10)
    monkeypatch.setattr(load.threading, "active_count", lambda: 1)  # the child only renders
    forked = tmp_path / "forked.ldif"
    load.write_offline(plan, forked, now="20261201000000Z", header="")
    monkeypatch.setattr(load, "FORK_FROM", 10**9)
    alone = tmp_path / "alone.ldif"
    load.write_offline(plan, alone, now="20261201000000Z", header="")
    assert forked.read_bytes() == alone.read_bytes()
    records = []
    for dn, attrs, tail in _plan_records(plan, "20261201000000Z"):
        merged = {**attrs, **dict(tail)}
        values = {
            k: [str(x) for x in v] if isinstance(v, list) else [str(v)]
            for k, v in merged.items()
            if v not in (None, "", [])
        }
        records.append((dn, values))
    assert alone.read_text(encoding="utf-8") == "".join(ldif.dump(records))


def _plan_records(plan: Any, now: str) -> Iterator[tuple[str, dict[str, Any], tuple[Any, ...]]]:
    """The records of a plan whose memberships are all between its own entries."""
    member_of: dict[str, list[str]] = {}
    members: dict[str, list[str]] = {}
    for profile_dn, account_dn in plan.memberships:
        member_of.setdefault(account_dn, []).append(profile_dn)
        members.setdefault(profile_dn, []).append(account_dn)
    for planned in (*plan.structures, *plan.services, *plan.applications):
        yield planned.dn, planned.attrs, ()
    for planned in plan.profiles:
        yield planned.dn, planned.attrs, (("member", members.get(planned.dn)),)
    for account in plan.accounts:
        tail: tuple[Any, ...] = (("memberOf", member_of.get(account.dn)),)
        if account.attrs.get("userPassword"):
            tail += (("pwdChangedTime", account.password_changed or now),)
        yield account.dn, account.attrs, tail
