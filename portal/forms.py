"""The portal's forms (Flask-WTF: every one carries a CSRF token). Labels hold the guide's
words (PORTAL.md); the rules themselves are the workflows' — these only bound the input."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

REQUIRED = "Ce champ est obligatoire."
TOO_LONG = "{label} : {max} caractères au plus."


def _required(what: str) -> DataRequired:
    return DataRequired(f"Saisissez {what}.")


def _max(n: int) -> Length:
    return Length(max=n, message=f"{n} caractères au plus.")


class LoginForm(FlaskForm):
    identifiant = StringField("Identifiant", [_required("votre identifiant"), _max(128)])
    mot_de_passe = PasswordField("Mot de passe", [_required("votre mot de passe"), _max(128)])


class CodeForm(FlaskForm):
    code = StringField(
        "Code de vérification", [_required("le code de vérification reçu par mail"), _max(20)]
    )


class PasswordChoiceForm(FlaskForm):
    mot_de_passe = PasswordField("Mot de passe", [_required("un mot de passe"), _max(128)])
    confirmation = PasswordField(
        "Confirmez le mot de passe", [_required("de nouveau le mot de passe"), _max(128)]
    )


class CreationForm(FlaskForm):
    # Declared in the page's order: the error summary lists the fields in this order.
    nom = StringField("Nom", [_required("votre nom"), _max(64)])
    prenom = StringField("Prénom", [_required("votre prénom"), _max(64)])
    mobile = StringField("N° de téléphone mobile", [Optional(), _max(32)])
    mot_de_passe = PasswordField("Mot de passe", [_required("un mot de passe"), _max(128)])
    confirmation = PasswordField(
        "Confirmez le mot de passe", [_required("de nouveau le mot de passe"), _max(128)]
    )


class EmptyForm(FlaskForm):
    """A button alone (submit, logout): only the CSRF token."""


class ForgotForm(FlaskForm):
    identifiant = StringField("Identifiant", [_required("votre identifiant"), _max(128)])
    captcha = StringField(
        "Captcha", [_required("les chiffres de l'image ou de l'extrait sonore"), _max(16)]
    )


class SecurityCodeForm(FlaskForm):
    code = StringField("Code de sécurité", [_required("le code de sécurité reçu"), _max(20)])


class NewPasswordForm(PasswordChoiceForm):
    jeton = HiddenField()


class PersonalDataForm(FlaskForm):
    nom = StringField("Nom", [_required("votre nom"), _max(64)])
    prenom = StringField("Prénom", [_required("votre prénom"), _max(64)])
    mail = StringField("Adresse mail", [_required("votre adresse mail"), _max(128)])
    mobile = StringField("N° de téléphone mobile", [Optional(), _max(32)])
    # Asked when the mail or the mobile changes more than 5 minutes after the login: they
    # receive the reset codes, so a borrowed session must not be able to redirect them.
    actuel = PasswordField("Mot de passe actuel", [Optional(), _max(128)])


class PasswordChangeForm(FlaskForm):
    actuel = PasswordField(
        "Mot de passe actuel", [_required("votre mot de passe actuel"), _max(128)]
    )
    mot_de_passe = PasswordField(
        "Nouveau mot de passe", [_required("un nouveau mot de passe"), _max(128)]
    )
    confirmation = PasswordField(
        "Confirmez le nouveau mot de passe",
        [_required("de nouveau le nouveau mot de passe"), _max(128)],
    )


# ---------------------------------------------------------------------- management screens
# Choices are offered from what the actor may do; a forged value is not refused here but by
# the workflow (403/404 page), which is where rights are decided.
class ServiceForm(FlaskForm):
    nom = StringField("Nom du service", [_required("le nom du service"), _max(128)])


class MergeForm(FlaskForm):
    cible = SelectField("Service qui reçoit les comptes", validate_choice=False)


class InviteForm(FlaskForm):
    # No default: the person inviting chooses the type (issue 19 item 12).
    type_compte = SelectField(
        "Type de compte", [DataRequired("Choisissez le type de compte.")], validate_choice=False
    )
    mail = StringField("Adresse mail", [_required("l'adresse mail de la personne"), _max(128)])
    service = SelectField("Service", validate_choice=False)
    application = SelectField("Application", validate_choice=False)


class RefuseForm(FlaskForm):
    motif = TextAreaField("Motif du refus", [_required("le motif du refus"), _max(500)])


class SuspendForm(FlaskForm):
    # Optional: quoted in the mail to the person when given (rules of a refusal's reason).
    motif = TextAreaField("Motif de la suspension (facultatif)", [Optional(), _max(500)])


class ProfileForm(FlaskForm):
    profil = SelectField("Profil", validate_choice=False)


class TransferForm(FlaskForm):
    service = SelectField("Service", validate_choice=False)


class HistoryFilterForm(FlaskForm):
    """The history's filters: a GET form (a filtered page can be bookmarked or shared), so
    without a CSRF token — it changes nothing."""

    class Meta:
        csrf = False

    du = DateField("Du", [Optional()], format="%Y-%m-%d")
    au = DateField("Au", [Optional()], format="%Y-%m-%d")
    compte = StringField("Compte", [Optional(), _max(128)])
    action = SelectField("Action", [Optional()], choices=[], validate_choice=True)
