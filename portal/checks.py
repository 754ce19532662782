"""Every field judged at once, so that a form with several mistakes lists them all (the
workflows stop at the first). The rules are apexdir's pure ones, called per field; the
workflow called next checks everything again."""

from __future__ import annotations

from typing import Any

from apexdir.config import PolicySettings
from apexdir.errors import ApexError, Invalid, PolicyViolation
from apexdir.messages import sentence, text
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
            _add(new, sentence(message))
    if new.data and confirmation.data and new.data != confirmation.data:
        _add(confirmation, text("password.mismatch"))


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


# The inputs apexdir's errors name (`ApexError.field`) → the fields of the portal's forms.
FORM_FIELDS = {
    "last_name": "nom",
    "first_name": "prenom",
    "mail": "mail",
    "mobile": "mobile",
    "password": "mot_de_passe",
    "confirmation": "confirmation",
    "code": "code",
    "captcha": "captcha",
    "reason": "motif",
}


def place(form: Any, exc: ApexError) -> None:
    """A workflow's refusal beside the field it names (`exc.field`), as Django's
    `add_error(field, error)`; above the form when it names none this form has. A password
    refused by the policy lists each unmet rule on the password field."""
    name = FORM_FIELDS.get(exc.field or "")
    if name is None or name not in form:
        form.form_errors.append(french(exc))
    elif isinstance(exc, PolicyViolation) and exc.details:
        for detail in exc.details:
            _add(form[name], sentence(detail))
    else:
        _add(form[name], french(exc))
