"""The French message catalogue (issue 20 item 3, issue 19 item 7): no English sentence
can reach a partner, every code raised exists, and an error renders from its code."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from apexdir import messages
from apexdir.errors import ApexError, Invalid, PolicyViolation
from apexdir.mail.render import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
# Words of English sentences that are not French words too (« or », « on », « a », « service »,
# « structure », « profil » are). Enough to catch "you hold", "cannot be refused", "no such
# account", "request … is being validated", "nothing to change", "at most".
ENGLISH = frozenset(
    """the you your yours is are was were be been being cannot can't could should would will
    must not no nothing this that these those with without only already again please run
    give required expected unknown invalid found such hold held delegated request requests
    account accounts password identifier refused meanwhile assign too many at most least and
    of to from by for it its has have """.split()  # noqa: SIM905
)
WORD = re.compile(r"[A-Za-zÀ-ÿ'’-]+")


def english_words(text: str) -> set[str]:
    words = {w.strip("'’-").lower() for w in WORD.findall(text)}
    return words & ENGLISH


def template_text(source: str) -> str:
    """What a reader sees of a Jinja template: no tags, no expressions, no markup."""
    source = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", source, flags=re.S)
    return re.sub(r"<[^>]+>", " ", source)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(messages.CATALOGUE))
def test_every_entry_is_french_and_renders(code: str) -> None:
    """No English word, « mail » not « e-mail », no command-line option; the template
    renders with its parameters."""
    template = messages.CATALOGUE[code]
    text = messages.text(code, {name: "X" for name in placeholders(template)})
    assert not english_words(text), code
    assert "e-mail" not in text.lower() and not re.search(r"(^|[\s(])--[a-z]", text)
    assert text[0].isupper(), "a sentence, or a label the params start"


@pytest.mark.parametrize("path", sorted(TEMPLATES.iterdir()), ids=lambda p: p.name)
def test_every_mail_template_is_french(path: Path) -> None:
    source = template_text(path.read_text(encoding="utf-8"))
    assert not english_words(source), path.name
    assert "e-mail" not in source.lower()


def test_the_heuristic_catches_what_used_to_reach_partners() -> None:
    """The sentences issue 19 found in front of partners would fail the checks above."""
    for sentence in (
        "vous ne pouvez attribuer que les profils you hold ; X n'en fait pas partie",
        "request 12ab is accepted: it cannot be refused",
        "--as x: no such account",
    ):
        assert english_words(sentence), sentence


def raised_codes() -> set[str]:
    found: set[str] = set()
    for folder in ("apexdir", "cli", "daemon", "portal"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            found.update(re.findall(r'code="([a-z_]+\.[a-z_.]+)"', source))
            found.update(re.findall(r'(?:text|_spend_try)\([^)]*?"([a-z_]+\.[a-z_]+)"', source))
    return found


def test_every_code_raised_is_in_the_catalogue() -> None:
    """A code missing from the catalogue would be a KeyError in front of a partner."""
    codes = raised_codes()
    assert len(codes) > 40
    assert codes - set(messages.CATALOGUE) == set()
    # rights.not_held.<actor type>: formatted, so listed here
    for kind in ("administrateur", "responsable", "collaborateur"):
        assert f"rights.not_held.{kind}" in messages.CATALOGUE


def test_an_error_is_data_rendered_by_the_catalogue() -> None:
    """Code, params and field travel with the error; the message is the catalogue's."""
    error = Invalid(code="mobile.not_mobile", params={"value": "01 23"}, field="mobile")
    assert (error.code, error.params, error.field) == (
        "mobile.not_mobile",
        {"value": "01 23"},
        "mobile",
    )
    assert messages.render(error) == str(error) == messages.text("mobile.not_mobile", error.params)
    assert str(error).endswith("Saisissez un numéro de mobile à 10 chiffres, par exemple "
                               "06 12 34 56 78.")  # fmt: skip
    policy = PolicyViolation(code="password.policy", details=["il faut un chiffre"])
    assert messages.render(policy) == (
        "Le mot de passe ne respecte pas la politique. Il faut un chiffre."
    )
    # The raise sites not migrated yet still work, rendered as sentences.
    assert messages.render(ApexError("un refus")) == "Un refus."
    with pytest.raises(TypeError):
        ApexError()
    with pytest.raises(KeyError):
        Invalid(code="no.such.code")


def test_a_closed_structure_is_told_in_the_rules_words() -> None:
    """The login's answer for a closed structure is the catalogue's, word for word the
    rules' constant that other edges show."""
    from apexdir.rules.structure_life import CLOSED_AT_LOGIN

    assert messages.text("login.structure_closed") == CLOSED_AT_LOGIN


# What a partner's action can raise: the workflows, the rules they apply, the OIDC provider
# and the portal. The bulk import (rules/import_rows.py) reports to the operator who runs it.
PARTNER_FACING = ("apexdir/workflows", "apexdir/rules", "apexdir/oidc", "portal")
OPERATOR_ONLY = {"apexdir/rules/import_rows.py"}


def raised_literals(path: Path) -> list[tuple[int, str]]:
    """The messages written at `raise SomeApexError("…")` sites (literal or f-string parts);
    other exceptions (a programming error, an OAuth error for the relying party's developer)
    never reach a page as text."""
    import ast

    from apexdir import errors

    tree = ast.parse(path.read_text(encoding="utf-8"))
    kinds = {name for name, kind in vars(errors).items()
             if isinstance(kind, type) and issubclass(kind, ApexError)}  # fmt: skip
    for node in ast.walk(tree):  # the module's own subclasses (precreation's _Raced)
        if isinstance(node, ast.ClassDef) and any(
            getattr(b, "id", "") in kinds for b in node.bases
        ):
            kinds.add(node.name)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        if getattr(node.exc.func, "id", "") not in kinds:
            continue
        if node.exc.args and isinstance(node.exc.args[0], ast.Constant | ast.JoinedStr):
            text = " ".join(
                part.value
                for part in ast.walk(node.exc.args[0])
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            )
            found.append((node.lineno, text))
    return found


def test_no_english_sentence_is_raised_where_a_partner_acts() -> None:
    """A raise site without a catalogue code shows its own message: it must be French too
    (an English one was found in the validation's races, issue 20 item 3)."""
    english = []
    for folder in PARTNER_FACING:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative in OPERATOR_ONLY:
                continue
            for line, text in raised_literals(path):
                if len(english_words(text)) >= 2:
                    english.append(f"{relative}:{line}: {text}")
    assert not english, english
