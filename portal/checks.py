"""Every field judged at once, so that a form with several mistakes lists them all (the
workflows stop at the first). The rules are apexdir's pure ones, called per field; the
workflow called next checks everything again."""

from __future__ import annotations

from typing import Any

from apexdir.config import PolicySettings
from apexdir.errors import ApexError, Invalid, PolicyViolation
from apexdir.portal.errors import french
from apexdir.rules.contact import normalize_mobile, validate_mail
from apexdir.rules.passwords import check_password


def password_rules(policy: PolicySettings) -> list[str]:
    """The policy in the guide's words, shown beside every field where a password is chosen."""
    return [
        f"{policy.password_min_length} à {policy.password_max_length} caractères ;",
        "1 lettre majuscule et 1 lettre minuscule ;",
        "minimum 2 chiffres ;",
        "minimum 1 caractère spécial ;",
        f"le mot de passe doit être différent des {policy.password_history} derniers mots de "
        "passe utilisés.",
    ]


def _add(field: Any, message: str) -> None:
    errors = list(field.errors)
    if message not in errors:
        errors.append(message)
    field.errors = errors


def check_new_password(form: Any, policy: PolicySettings, new: Any, confirmation: Any) -> None:
    if new.data and not new.errors:
        for message in check_password(
            new.data, min_length=policy.password_min_length, max_length=policy.password_max_length
        ):
            _add(new, message + ".")
    if new.data and confirmation.data and new.data != confirmation.data:
        _add(confirmation, "Les deux mots de passe ne correspondent pas.")


def check_mobile(field: Any) -> None:
    if field.data and field.data.strip() and not field.errors:
        try:
            normalize_mobile(field.data)
        except Invalid as exc:
            _add(field, french(exc))


def check_mail(field: Any) -> None:
    if field.data and not field.errors:
        try:
            validate_mail(field.data)
        except Invalid as exc:
            _add(field, french(exc))


def has_errors(form: Any) -> bool:
    return bool(form.form_errors) or any(field.errors for field in form)


def place(form: Any, exc: ApexError, fields: dict[str, str]) -> None:
    """A workflow's refusal, tied to the field it concerns when its words name one.
    `fields` maps a message's opening words to a field name."""
    if isinstance(exc, PolicyViolation) and "mot_de_passe" in form:
        for detail in exc.details:
            _add(form["mot_de_passe"], detail[0].upper() + detail[1:] + ".")
        return
    message = french(exc)
    for opening, name in fields.items():
        if message.lower().startswith(opening.lower()) and name in form:
            _add(form[name], message)
            return
    form.form_errors.append(message)


PASSWORD_FIELDS = {
    "Les deux mots de passe": "confirmation",
    "Le mot de passe": "mot_de_passe",
}
PERSON_FIELDS = {
    "Nom": "nom",
    "Prénom": "prenom",
    "Numéro de mobile": "mobile",
    "Adresse e-mail": "mail",
    "Le nom": "nom",
    "Le prénom": "prenom",
    **PASSWORD_FIELDS,
}
