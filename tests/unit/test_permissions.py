"""The permission matrix of SPEC §5–§7, checked cell by cell."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apexdir.errors import NotAllowed
from apexdir.rules.permissions import (
    RULES,
    AccountType,
    Action,
    Actor,
    ActorType,
    Scope,
    Target,
    can_grant_profile,
    is_allowed,
    listing_scope,
    may_list,
    refusal,
    require,
    require_profile,
)

S1, S2 = "73282932000074", "35600000000048"
SVC_A, SVC_B, SVC_C = "svc-a", "svc-b", "svc-c"  # A and B in S1, C in S2

ACTORS = {
    ActorType.AGENT: Actor(ActorType.AGENT, identifier="agent.dupont"),
    ActorType.ADMINISTRATEUR: Actor(ActorType.ADMINISTRATEUR, "alice.admin-px", S1),
    ActorType.RESPONSABLE: Actor(ActorType.RESPONSABLE, "remi.resp-px", S1, SVC_A),
    ActorType.COLLABORATEUR: Actor(ActorType.COLLABORATEUR, "claire.collab-px", S1, SVC_A),
}

ADM, RES, COL = AccountType.ADMINISTRATEUR, AccountType.RESPONSABLE, AccountType.COLLABORATEUR


def self_target(actor: Actor) -> Target:
    """The actor's own account; an agent is not a partner account, so it has no type."""
    account_type = None if actor.type is ActorType.AGENT else AccountType(actor.type.value)
    return Target(account_type, actor.structure, actor.service, actor.identifier)


# Targets seen from the partners above (structure S1, service A for responsable and
# collaborateur). A/R/C: an administrateur/responsable/collaborateur account; S: the
# structure itself; V: a service; "-": no target at all. "=" same service (same structure
# for A and S), "~" another service of the same structure, "≠" another structure.
# "me" is the actor's own account.
OTHER_TARGETS = {
    "A=": Target(ADM, S1, None, "autre.admin-px"),
    "A≠": Target(ADM, S2, None, "loin.admin-px"),
    "R=": Target(RES, S1, SVC_A, "autre.resp-px"),
    "R~": Target(RES, S1, SVC_B, "voisin.resp-px"),
    "R≠": Target(RES, S2, SVC_C, "loin.resp-px"),
    "C=": Target(COL, S1, SVC_A, "autre.collab-px"),
    "C~": Target(COL, S1, SVC_B, "voisin.collab-px"),
    "C≠": Target(COL, S2, SVC_C, "loin.collab-px"),
    "S=": Target(structure=S1),
    "S≠": Target(structure=S2),
    "V=": Target(structure=S1, service=SVC_A),
    "V~": Target(structure=S1, service=SVC_B),
    "V≠": Target(structure=S2, service=SVC_C),
    "-": Target(),
}
COLUMNS = ["me", *OTHER_TARGETS]

# Y = allowed, . = refused. Columns as described above OTHER_TARGETS.
MATRIX = """
actor           action             me  A=  A≠  R=  R~  R≠  C=  C~  C≠  S=  S≠  V=  V~  V≠  -
agent           structure_create   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           structure_update   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           structure_view     Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           catalogue_manage   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           service_manage     Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           account_transfer   .   .   .   Y   Y   Y   Y   Y   Y   .   .   .   .   .   .
agent           invite             Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           validate           Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           resend_identifier  Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           account_view       Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           account_delete     Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           account_suspend    Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           account_retype     Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           grant              Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           delegate           .   .   .   Y   Y   Y   .   .   .   .   .   .   .   .   .
agent           journal_view       Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           history_view       Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           review             Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           review_open        Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           self_update        Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           structure_close    Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           structure_move     Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
agent           data_export        Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
administrateur  structure_create   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
administrateur  structure_update   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
administrateur  structure_view     Y   Y   .   Y   Y   .   Y   Y   .   Y   .   Y   Y   .   .
administrateur  catalogue_manage   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
administrateur  service_manage     Y   Y   .   Y   Y   .   Y   Y   .   Y   .   Y   Y   .   .
administrateur  account_transfer   .   .   .   Y   Y   .   Y   Y   .   .   .   .   .   .   .
administrateur  invite             .   .   .   Y   Y   .   Y   Y   .   .   .   .   .   .   .
administrateur  validate           .   .   .   Y   Y   .   Y   Y   .   .   .   .   .   .   .
administrateur  resend_identifier  .   .   .   Y   Y   .   Y   Y   .   .   .   .   .   .   .
administrateur  account_view       Y   Y   .   Y   Y   .   Y   Y   .   Y   .   Y   Y   .   .
administrateur  account_delete     .   .   .   Y   Y   .   Y   Y   .   .   .   .   .   .   .
administrateur  account_suspend    .   .   .   Y   Y   .   Y   Y   .   .   .   .   .   .   .
administrateur  account_retype     .   .   .   Y   Y   .   Y   Y   .   .   .   .   .   .   .
administrateur  grant              .   .   .   Y   Y   .   Y   Y   .   .   .   .   .   .   .
administrateur  delegate           .   .   .   Y   Y   .   .   .   .   .   .   .   .   .   .
administrateur  journal_view       .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
administrateur  history_view       Y   Y   .   Y   Y   .   Y   Y   .   Y   .   Y   Y   .   .
administrateur  review             Y   Y   .   Y   Y   .   Y   Y   .   Y   .   Y   Y   .   .
administrateur  review_open        .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
administrateur  self_update        Y   .   .   .   .   .   .   .   .   .   .   .   .   .   .
administrateur  structure_close    .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
administrateur  structure_move     .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
administrateur  data_export        Y   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     structure_create   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     structure_update   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     structure_view     Y   Y   .   Y   Y   .   Y   Y   .   Y   .   Y   Y   .   .
responsable     catalogue_manage   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     service_manage     .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     account_transfer   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     invite             .   .   .   .   .   .   Y   .   .   .   .   .   .   .   .
responsable     validate           .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     resend_identifier  .   .   .   .   .   .   Y   .   .   .   .   .   .   .   .
responsable     account_view       Y   Y   .   Y   Y   .   Y   Y   .   Y   .   Y   Y   .   .
responsable     account_delete     .   .   .   .   .   .   Y   .   .   .   .   .   .   .   .
responsable     account_suspend    .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     account_retype     .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     grant              .   .   .   .   .   .   Y   .   .   .   .   .   .   .   .
responsable     delegate           .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     journal_view       .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     history_view       Y   .   .   Y   .   .   Y   .   .   .   .   Y   .   .   .
responsable     review             .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     review_open        .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     self_update        Y   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     structure_close    .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     structure_move     .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
responsable     data_export        Y   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   structure_create   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   structure_update   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   structure_view     Y   Y   .   Y   Y   .   Y   Y   .   Y   .   Y   Y   .   .
collaborateur   catalogue_manage   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   service_manage     .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   account_transfer   .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   invite             .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   validate           .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   resend_identifier  .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   account_view       Y   Y   .   Y   Y   .   Y   Y   .   Y   .   Y   Y   .   .
collaborateur   account_delete     .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   account_suspend    .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   account_retype     .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   grant              .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   delegate           .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   journal_view       .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   history_view       .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   review             .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   review_open        .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   self_update        Y   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   structure_close    .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   structure_move     .   .   .   .   .   .   .   .   .   .   .   .   .   .   .
collaborateur   data_export        Y   .   .   .   .   .   .   .   .   .   .   .   .   .   .
"""


def parse_matrix() -> list[tuple[ActorType, Action, str, bool]]:
    header, *rows = MATRIX.strip().splitlines()
    assert header.split()[2:] == COLUMNS
    cases = []
    for row in rows:
        actor, action, *cells = row.split()
        assert len(cells) == len(COLUMNS), row
        for column, cell in zip(COLUMNS, cells, strict=True):
            assert cell in ("Y", "."), row
            cases.append((ActorType(actor), Action(action), column, cell == "Y"))
    return cases


CASES = parse_matrix()


def test_the_matrix_covers_every_actor_and_action_once() -> None:
    """Each (actor type, action) pair has exactly one row in the expected matrix."""
    pairs = [(actor, action) for actor, action, column, _ in CASES if column == "me"]
    assert sorted(pairs) == sorted((a, b) for a in ActorType for b in Action)


ROWS = sorted({(actor, action) for actor, action, _, _ in CASES})


def _disagreements(actor_type: ActorType, action: Action) -> list[str]:
    """The cells of one row where is_allowed or require disagree with the matrix."""
    actor = ACTORS[actor_type]
    wrong = []
    for _, _, column, allowed in (c for c in CASES if c[:2] == (actor_type, action)):
        target = self_target(actor) if column == "me" else OTHER_TARGETS[column]
        if is_allowed(actor, action, target) is not allowed:
            wrong.append(f"{column}: is_allowed says {not allowed}")
        try:
            require(actor, action, target)
        except NotAllowed:
            if allowed:
                wrong.append(f"{column}: require refuses")
        else:
            if not allowed:
                wrong.append(f"{column}: require lets it through")
        if allowed and refusal(actor, action, target) is not None:
            wrong.append(f"{column}: refusal gives a reason")
    return wrong


# A row of the matrix per test, each of its cells checked and every disagreeing cell named
# (a test per cell was 1,380 tests: pytest's and xdist's own cost per test, ≈ 5 ms each,
# was most of the time of this file — issue 20 item 9).
@pytest.mark.parametrize(("actor_type", "action"), ROWS, ids=[f"{a}-{b}" for a, b in ROWS])
def test_permission_matrix(actor_type: ActorType, action: Action) -> None:
    """is_allowed and require agree with the expected matrix, cell by cell."""
    assert _disagreements(actor_type, action) == []


def test_rules_table_has_a_row_per_action() -> None:
    """The one table in code names every action; agents appear in every row."""
    assert set(RULES) == set(Action)
    assert all(ActorType.AGENT in row for row in RULES.values())


@pytest.mark.parametrize(
    ("actor_type", "action", "column", "message"),
    [
        (
            ActorType.RESPONSABLE,
            Action.VALIDATE,
            "C=",
            "Action non autorisée: un responsable ne peut pas valider ou refuser la création "
            "d'un compte",
        ),
        (
            ActorType.ADMINISTRATEUR,
            Action.ACCOUNT_DELETE,
            "A=",
            "Action non autorisée: un administrateur ne peut pas supprimer un compte "
            "(compte visé de type administrateur)",
        ),
        (
            ActorType.ADMINISTRATEUR,
            Action.INVITE,
            "C≠",
            "Action non autorisée: un administrateur ne peut pas initier la création d'un "
            "compte en dehors de sa structure",
        ),
        (
            ActorType.RESPONSABLE,
            Action.GRANT,
            "C~",
            "Action non autorisée: un responsable ne peut pas attribuer ou retirer des profils "
            "en dehors de son service",
        ),
        (
            ActorType.COLLABORATEUR,
            Action.SELF_UPDATE,
            "C=",
            "Action non autorisée: un collaborateur ne peut pas modifier des données "
            "personnelles d'un autre compte que le sien",
        ),
        (
            ActorType.AGENT,
            Action.DELEGATE,
            "S=",
            "Action non autorisée: un agent ne peut pas déléguer des profils ou retirer une "
            "délégation (type du compte visé inconnu)",
        ),
        (
            ActorType.ADMINISTRATEUR,
            Action.JOURNAL_VIEW,
            "-",
            "Action non autorisée: un administrateur ne peut pas consulter le journal",
        ),
    ],
)
def test_refusals_say_why(actor_type: ActorType, action: Action, column: str, message: str) -> None:
    """NotAllowed carries a French reason; the CLI turns it into the exit code 4."""
    from apexdir.cli.context import exit_code

    with pytest.raises(NotAllowed) as caught:
        require(ACTORS[actor_type], action, OTHER_TARGETS[column])
    assert str(caught.value) == message
    assert exit_code(caught.value) == 4


def test_self_is_recognised_whatever_the_case() -> None:
    """LDAP binds ignore the case of uid, so the comparison does too."""
    actor = Actor(ActorType.COLLABORATEUR, "Claire.Collab-PX", S1, SVC_A)
    assert is_allowed(actor, Action.SELF_UPDATE, Target(COL, S1, SVC_A, "claire.collab-px"))


def test_no_identifier_is_no_self() -> None:
    """Two unknown identifiers are not the same account."""
    actor = Actor(ActorType.COLLABORATEUR, None, S1, SVC_A)
    assert not is_allowed(actor, Action.SELF_UPDATE, Target(COL, S1, SVC_A, None))
    actor = Actor(ActorType.COLLABORATEUR, "claire.collab-px", S1, SVC_A)
    assert not is_allowed(actor, Action.SELF_UPDATE, Target(COL, S1, SVC_A, None))


def test_a_partner_without_structure_reaches_nothing() -> None:
    """A broken entry (no structure) cannot match targets that have none either."""
    actor = Actor(ActorType.ADMINISTRATEUR, "alice.admin-px", None)
    assert not is_allowed(actor, Action.STRUCTURE_VIEW, Target())
    assert not is_allowed(actor, Action.INVITE, Target(COL, None, None))
    assert is_allowed(actor, Action.SELF_UPDATE, Target(ADM, None, None, "alice.admin-px"))


def test_a_responsable_without_service_manages_nobody() -> None:
    """Own-service rules need a service on both sides."""
    actor = Actor(ActorType.RESPONSABLE, "remi.resp-px", S1, None)
    assert not is_allowed(actor, Action.INVITE, Target(COL, S1, None))
    assert is_allowed(actor, Action.ACCOUNT_VIEW, Target(COL, S1, None))


def test_same_service_id_in_another_structure_is_another_service() -> None:
    """A responsable's service is identified together with its structure."""
    actor = ACTORS[ActorType.RESPONSABLE]
    assert not is_allowed(actor, Action.INVITE, Target(COL, S2, SVC_A))


def test_an_invitation_without_account_type_is_refused_to_partners() -> None:
    """Partners are limited by type, so the type of the invitee must be known."""
    assert not is_allowed(ACTORS[ActorType.ADMINISTRATEUR], Action.INVITE, Target(None, S1, SVC_A))
    assert is_allowed(ACTORS[ActorType.AGENT], Action.INVITE, Target(None, S1, SVC_A))


partners = st.sampled_from(
    [ActorType.ADMINISTRATEUR, ActorType.RESPONSABLE, ActorType.COLLABORATEUR]
)
optional_text = st.one_of(st.none(), st.sampled_from(["x", SVC_A, SVC_B, S1, S2]))


@given(
    partners,
    st.sampled_from(list(Action)),
    st.one_of(st.none(), st.sampled_from(list(AccountType))),
    st.one_of(st.none(), st.sampled_from([S2, "00000000000000"])),
    optional_text,
)
def test_partners_never_act_outside_their_structure(
    actor_type: ActorType,
    action: Action,
    account_type: AccountType | None,
    structure: str | None,
    service: str | None,
) -> None:
    """Whatever the action, a partner of S1 cannot touch another account outside S1."""
    actor = Actor(actor_type, "me.partner-px", S1, SVC_A)
    target = Target(account_type, structure, service, "someone.else-px")
    assert not is_allowed(actor, action, target)


@given(
    st.sampled_from(list(ActorType)),
    st.sampled_from(list(Action)),
    st.one_of(st.none(), st.sampled_from(list(AccountType))),
    optional_text,
    optional_text,
    optional_text,
)
def test_is_allowed_and_require_always_agree(
    actor_type: ActorType,
    action: Action,
    account_type: AccountType | None,
    structure: str | None,
    service: str | None,
    identifier: str | None,
) -> None:
    """is_allowed is true exactly when require does not raise."""
    actor = Actor(actor_type, "x", S1, SVC_A)
    target = Target(account_type, structure, service, identifier)
    try:
        require(actor, action, target)
    except NotAllowed:
        assert not is_allowed(actor, action, target)
    else:
        assert is_allowed(actor, action, target)


@pytest.mark.parametrize(
    ("actor_type", "own_profiles", "profile", "expected"),
    [
        (ActorType.AGENT, set(), "ficoba-consultation", True),
        (ActorType.ADMINISTRATEUR, {"ficoba-consultation"}, "ficoba-consultation", True),
        (ActorType.ADMINISTRATEUR, {"ficoba-consultation"}, "patrim-consultation", False),
        (ActorType.ADMINISTRATEUR, set(), "ficoba-consultation", False),
        (ActorType.RESPONSABLE, {"ficoba-consultation"}, "ficoba-consultation", True),
        (ActorType.RESPONSABLE, {"ficoba-consultation"}, "patrim-consultation", False),
        (ActorType.RESPONSABLE, set(), "ficoba-consultation", False),
        (ActorType.COLLABORATEUR, {"ficoba-consultation"}, "ficoba-consultation", False),
    ],
)
def test_can_grant_profile(
    actor_type: ActorType, own_profiles: set[str], profile: str, expected: bool
) -> None:
    """Agents grant anything; others only what they hold or were delegated."""
    assert can_grant_profile(actor_type, own_profiles, profile) is expected
    if expected:
        require_profile(actor_type, own_profiles, profile)
    else:
        with pytest.raises(NotAllowed):
            require_profile(actor_type, own_profiles, profile)


@pytest.mark.parametrize(
    ("actor_type", "message"),
    [
        (
            ActorType.ADMINISTRATEUR,
            "Action non autorisée : vous ne pouvez attribuer ou déléguer que les profils que "
            "vous détenez ; le profil patrim n'en fait pas partie.",
        ),
        (
            ActorType.RESPONSABLE,
            "Action non autorisée : vous ne pouvez attribuer que les profils qui vous sont "
            "délégués ; le profil patrim n'en fait pas partie.",
        ),
        (
            ActorType.COLLABORATEUR,
            "Action non autorisée : un collaborateur n'attribue aucun profil (patrim).",
        ),
    ],
)
def test_require_profile_messages(actor_type: ActorType, message: str) -> None:
    """The refusal names the rule and the profile."""
    with pytest.raises(NotAllowed) as caught:
        require_profile(actor_type, {"ficoba"}, "patrim")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("actor_type", "scope"),
    [
        (ActorType.AGENT, Scope.ANYWHERE),
        (ActorType.ADMINISTRATEUR, Scope.OWN_STRUCTURE),
        (ActorType.RESPONSABLE, Scope.OWN_SERVICE),  # SPEC §1: he manages one service
        (ActorType.COLLABORATEUR, Scope.OWN_STRUCTURE),  # manages nobody: what he consults
    ],
)
def test_listing_scope_is_the_reach_of_account_management(
    actor_type: ActorType, scope: Scope
) -> None:
    """The account list reaches as far as the actor's management, read from the table."""
    assert listing_scope(actor_type) is scope


def test_a_responsable_lists_his_service_only() -> None:
    """Every account of his service (himself included), nobody of another service."""
    resp = ACTORS[ActorType.RESPONSABLE]
    assert may_list(resp, Target(COL, S1, SVC_A, "x"))
    assert may_list(resp, Target(RES, S1, SVC_A, resp.identifier))
    assert not may_list(resp, Target(COL, S1, SVC_B, "y"))
    assert not may_list(resp, Target(ADM, S1, None, "z"))
    assert not may_list(resp, Target(COL, S2, SVC_A, "w"))
