"""The one French catalogue of what apexdir tells people: error code → message template.

Errors are data (STYLE.md, « Errors are data, messages are a catalogue »; Django's
`ValidationError(message, code, params)` is the model): a rule or a workflow raises an
`ApexError` with a `code`, its `params` and the `field` it concerns; this module turns the
code into French, the same words for the portal, the CLI and the logs. A message says what
to type when a value is refused (issue 19 item 7), in the guide's words (« mail », never
« e-mail »), and never in English (tests/unit/test_messages.py checks every entry).

Templates are `str.format` strings over the error's params; `{hint}`-style constants are
spliced in here, once, so that a wording changes in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apexdir.errors import ApexError

MOBILE_HINT = "Saisissez un numéro de mobile à 10 chiffres, par exemple 06 12 34 56 78."
MAIL_HINT = "Saisissez une adresse mail de la forme prenom.nom@exemple.fr."
SIRET_HINT = "Saisissez les 14 chiffres du SIRET, par exemple 732 829 320 00074."
NEW_REQUEST = "faites une nouvelle demande de réinitialisation (« Mot de passe oublié »)."

CATALOGUE: dict[str, str] = {
    # -- mail addresses (rules/contact.py), field "mail"
    "mail.empty": MAIL_HINT,
    "mail.one_at": "Adresse mail invalide : « {value} » doit contenir un seul « @ ». " + MAIL_HINT,
    "mail.too_long": "Adresse mail invalide : elle dépasse {max} caractères ({length}).",
    "mail.no_local": "Adresse mail invalide : « {value} » n'a rien avant le « @ ». " + MAIL_HINT,
    "mail.local_not_ascii": "Adresse mail invalide : la partie avant le « @ » de « {value} » "
    "contient des caractères non ASCII (lettres accentuées…), que l'annuaire n'accepte pas.",
    "mail.domain_not_ascii": "Adresse mail invalide : le domaine de « {value} » contient des "
    "caractères non ASCII ; un domaine accentué s'écrit sous sa forme ASCII (xn--…).",
    "mail.local_invalid": "Adresse mail invalide : la partie avant le « @ » de « {value} » "
    "contient un caractère interdit (espace, virgule, guillemet, chevron…).",
    "mail.dots": "Adresse mail invalide : points mal placés dans « {value} ».",
    "mail.domain_invalid": "Adresse mail invalide : le domaine de « {value} » est incorrect. "
    + MAIL_HINT,
    # -- mobile numbers (rules/contact.py), field "mobile"
    "mobile.empty": MOBILE_HINT,
    "mobile.not_a_number": "Numéro de mobile invalide : « {value} » n'est pas un numéro de "
    "téléphone. " + MOBILE_HINT,
    "mobile.invalid": "Numéro de mobile invalide : « {value} » n'est pas un numéro valide. "
    + MOBILE_HINT,
    "mobile.not_mobile": "Numéro de mobile invalide : « {value} » n'est pas un numéro de "
    "mobile. " + MOBILE_HINT,
    "mobile.unmaskable": "Numéro de mobile invalide : impossible de le masquer.",
    # -- SIRET (rules/siret.py), field "siret"
    "siret.empty": "SIRET invalide : la valeur est vide. " + SIRET_HINT,
    "siret.not_digits": "SIRET invalide : « {value} » ne doit contenir que des chiffres. "
    + SIRET_HINT,
    "siret.length": "SIRET invalide : {value} compte {length} chiffres au lieu de 14. "
    + SIRET_HINT,
    "siret.zeros": "SIRET invalide : {value} a un SIREN composé de zéros.",
    "siret.checksum": "SIRET invalide : la clé de contrôle de {value} est incorrecte ; "
    "vérifiez les chiffres saisis.",
    # -- passwords (rules/passwords.py), fields "password" and "confirmation"
    "password.policy": "Le mot de passe ne respecte pas la politique",
    "password.length": "Le mot de passe doit contenir entre {min} et {max} caractères",
    "password.upper": "Le mot de passe doit contenir au moins une lettre majuscule",
    "password.lower": "Le mot de passe doit contenir au moins une lettre minuscule",
    "password.digits": "Le mot de passe doit contenir au moins {count} chiffres",
    "password.special": "Le mot de passe doit contenir au moins un caractère spécial (ni lettre "
    "ni chiffre)",
    "password.control": "Le mot de passe ne doit pas contenir de caractère de contrôle",
    "password.refused": "Le mot de passe a été refusé par l'annuaire",
    "password.mismatch": "Les deux mots de passe ne correspondent pas : saisissez le même mot "
    "de passe dans les deux champs.",
    # -- names and texts (rules/text.py, rules/identifiers.py); {label} names the field
    "text.required": "{label} : ce champ est obligatoire.",
    "text.too_long": "{label} : {max} caractères au plus ({length} saisis).",
    "text.hidden_char": "{label} : caractère de contrôle ou invisible interdit ({char}) ; "
    "saisissez le nom tel qu'il s'écrit.",
    "text.brackets": "{label} : les caractères « < » et « > » sont interdits.",
    "identifier.empty": "{label} : ce champ est obligatoire pour construire l'identifiant.",
    "identifier.no_letter": "{label} : « {value} » ne contient aucune lettre ni aucun chiffre "
    "utilisable pour construire l'identifiant ; saisissez-le en lettres latines.",
    "identifier.too_long": "Les nom et prénom donnent un identifiant de {length} caractères : "
    "{max} au plus. Abrégez le nom ou le prénom.",
    # -- rights (rules/permissions.py, workflows/rights.py)
    "rights.not_held.administrateur": "Action non autorisée : vous ne pouvez attribuer ou "
    "déléguer que les profils que vous détenez ; le profil {profile} n'en fait pas partie.",
    "rights.not_held.responsable": "Action non autorisée : vous ne pouvez attribuer que les "
    "profils qui vous sont délégués ; le profil {profile} n'en fait pas partie.",
    "rights.not_held.collaborateur": "Action non autorisée : un collaborateur n'attribue aucun "
    "profil ({profile}).",
    # -- access review (rules/review.py, workflows/review.py, portal « Revue des habilitations »)
    "review.bad_choice": "Réponse de la revue des habilitations invalide : rechargez la page.",
    "review.none": "Aucune revue des habilitations n'est en cours pour votre structure.",
    "review.not_pending": "L'habilitation {profile} de {identifier} n'est pas à revoir : "
    "elle a été retirée ou modifiée entre-temps. Rechargez la page.",
    "review.already_active": "Une revue des habilitations est déjà en cours pour la "
    "structure {siret}.",
    "review.closed_structure": "La structure {siret} est fermée : pas de revue.",
    "review.nothing_chosen": "Choisissez « Confirmer » ou « Retirer » pour au moins une "
    "habilitation.",
    "review.saved": "Vos choix ont été enregistrés : {confirmed} habilitation(s) "
    "confirmée(s), {withdrawn} retirée(s).",
    "review.completed": "La revue des habilitations de votre structure est terminée. Merci.",
    "review.remaining": "Il reste {count} habilitation(s) à revoir avant le {deadline}.",
    # -- pré-création (workflows/precreation.py)
    "creation.type": "Type de compte « {value} » inconnu : choisissez administrateur, "
    "responsable ou collaborateur.",
    "creation.admin_no_service": "Un administrateur appartient à la structure, pas à un "
    "service : ne choisissez pas de service.",
    "creation.service_required": "Un {kind} appartient à un service : choisissez son service.",
    "creation.link_refused": "Ce lien de création de compte n'est pas valide ou a déjà été "
    "utilisé.",
    "creation.link_expired": "Ce lien de création de compte a expiré : demandez une nouvelle "
    "invitation.",
    "creation.form_incomplete": "Le formulaire n'a pas encore été complété : revenez à l'étape 1.",
    "creation.not_refusable": "La demande {request} est {status} : elle ne peut plus être refusée.",
    "creation.not_acceptable": "La demande {request} est {status} : seul un formulaire envoyé "
    "peut être validé.",
    "creation.no_password": "La demande {request} ne contient plus de mot de passe : la personne "
    "doit compléter le formulaire à nouveau.",
    "creation.busy": "La demande {request} est en cours de validation par quelqu'un d'autre : "
    "réessayez dans un instant.",
    "creation.decided_meanwhile": "La demande {request} a été {status} entre-temps : aucun compte "
    "n'a été créé.",
    "creation.identifier_busy": "Trop de créations de comptes simultanées pour attribuer un "
    "identifiant : réessayez dans un instant.",
    "creation.duplicate": "Une création de compte est déjà en cours pour {mail} dans la "
    "structure {siret} (demande {request}).",
    "creation.resend_not_expired": "Demande {request} : seule une invitation expirée peut être "
    "renvoyée (celle-ci est encore valable ou a déjà été traitée).",
    # -- the reason of a refusal (rules/refusal.py), field "reason"
    "refusal.control": "Motif du refus invalide : il contient un caractère de contrôle "
    "({char}) : seul du texte simple est accepté.",
    "refusal.required": "Motif du refus obligatoire : indiquez pourquoi la création est refusée.",
    "refusal.too_long": "Motif du refus trop long : {length} caractères, {max} au plus.",
    "refusal.phone": "Motif du refus invalide : il ne doit pas contenir de numéro de "
    "téléphone (« {value} ») : la personne s'adresse à l'administrateur de sa structure ou à "
    "l'assistance.",
    "refusal.link": "Motif du refus invalide : il ne doit contenir ni lien, ni adresse de site "
    "ou de messagerie (« {value} »).",
    "refusal.markup": "Motif du refus invalide : seul du texte simple est accepté, sans balise "
    "(« {value} »).",
    # -- who acts (workflows/actors.py: the CLI's --as)
    "actor.unknown": "Compte « {identifier} » introuvable : impossible d'agir en son nom.",
    "actor.inactive": "Le compte « {identifier} » n'est pas actif ({status}) : impossible "
    "d'agir en son nom.",
    # -- structures (workflows/structures.py); the fields' labels are structures.LABELS
    "structure.siret_required": "Indiquez le SIRET de la structure.",
    "structure.category": "Catégorie « {value} » inconnue : choisissez parmi {known}.",
    "structure.unknown_field": "Information inconnue pour une structure : « {value} ».",
    # -- the catalogue of applications (workflows/catalogue.py)
    "catalogue.app_code": "Code d'application « {value} » invalide : de 1 à 32 lettres, "
    "chiffres, « _ », « . » ou « - ».",
    "catalogue.profile_name": "Nom de profil « {value} » invalide : de 1 à 64 lettres, "
    "chiffres, espaces, « _ », « . », « - » ou « ' ».",
    "catalogue.app_name": "Nom d'application invalide : de 1 à 128 caractères.",
    "catalogue.app_exists": "L'application {code} existe déjà.",
    # -- accounts and services (workflows/accounts.py, workflows/services.py)
    "account.nothing_to_change": "Rien à modifier : indiquez un nom, un prénom, une adresse "
    "mail ou un numéro de mobile.",
    "account.delete_self": "Un compte ne peut pas se supprimer lui-même.",
    "account.delete_habilitations": "{identifier} détient encore {count} habilitation(s) "
    "({profiles}) : retirez-les d'abord.",
    "service.exists": "Un service nommé « {name} » existe déjà dans la structure {siret} : "
    "choisissez un autre nom.",
    "service.not_empty": "Le service « {name} » compte encore {accounts} compte(s) et "
    "{requests} demande(s) de création en cours : transférez-les ou fusionnez le service "
    "d'abord.",
    # -- login, its mailed code and re-authentication (workflows/auth/)
    "login.invalid": "Identifiant ou mot de passe incorrect.",
    "login.expired": "Votre mot de passe a expiré : choisissez-en un nouveau avec « Mot de passe "
    "oublié ».",
    "login.inactive": "Votre compte n'est pas actif : contactez votre administrateur.",
    "login.suspended": "Votre compte est suspendu : contactez votre administrateur.",
    # the same words as rules/structure_life.CLOSED_AT_LOGIN (tests/unit/test_messages.py)
    "login.structure_closed": "Votre structure est fermée sur APEX Partenaires : votre compte "
    "ne permet plus de vous connecter, ni à votre espace ni aux applications de la DGFIP. Pour "
    "toute question, veuillez vous rapprocher de l'assistance.",
    "login.restricted": "Votre mot de passe doit être changé avant de vous connecter.",
    "login.code_none": "Aucun code de vérification en attente : reconnectez-vous pour en "
    "recevoir un.",
    "login.code_expired": "Ce code de vérification a expiré : reconnectez-vous pour en recevoir "
    "un nouveau.",
    "login.codes_paused": "Trop de codes de vérification ont été demandés ou saisis pour ce "
    "compte : la connexion est suspendue pour le moment. Réessayez plus tard.",
    "reauth.missing": "Saisissez votre mot de passe actuel pour changer l'adresse mail ou le "
    "numéro de mobile.",
    "reauth.refused": "Mot de passe incorrect : saisissez votre mot de passe actuel.",
    "login.throttled": "Trop de tentatives de connexion : patientez {wait} avant de réessayer. "
    "Si vous avez oublié votre mot de passe, utilisez « Mot de passe oublié ».",
    "login.code_wrong": "Code de vérification incorrect : il vous reste {essais}.",
    "login.code_exhausted": "Code de vérification incorrect : ce code est annulé après {essais} "
    "; reconnectez-vous pour en recevoir un nouveau.",
    "login.locked": "Votre compte est verrouillé à la suite de plusieurs échecs de connexion : "
    "réessayez dans {wait}, ou réinitialisez votre mot de passe (mot de passe oublié).",
    # -- forgotten password: captcha and the SMS code (workflows/auth/), field "code"
    "captcha.refused": "Le captcha n'a pas été validé : recopiez les chiffres de l'image.",
    "reset.code_wrong": "Code incorrect : il vous reste {essais}. Saisissez les 6 chiffres "
    "reçus par SMS.",
    "reset.code_exhausted": "Code incorrect : vous n'avez plus d'essai. Ce code est annulé : "
    + NEW_REQUEST,
    "reset.code_expired": "Code expiré : ce code n'est plus valable, " + NEW_REQUEST,
    "reset.refused": "Code ou lien de réinitialisation invalide ou expiré : " + NEW_REQUEST,
    # -- the command line's own refusals (cli/); {option} names an option, given as a
    # parameter because the portal shows the other entries
    "cli.confirm_needed": "Demande non transmise : aucun terminal pour la confirmer ; "
    "ajoutez {option}.",
    "cli.nothing_to_change": "Rien à modifier : indiquez {name}, {url} ou les deux.",
    "cli.stdin_not_text": "L'entrée standard n'est pas du texte UTF-8 valide.",
    "cli.stdin_lines": "Entrée standard : {count} ligne(s) attendue(s) (un mot de passe n'est "
    "jamais passé en argument).",
    "cli.argument_not_text": "L'argument « {value} » n'est pas du texte UTF-8 valide.",
    "cli.acting_as_empty": "{option} : un identifiant est obligatoire.",
    "cli.retry_which": "Indiquez un numéro de message ou {option}.",
    "cli.journal_filters": "{account} et {action} filtrent l'historique d'une structure : "
    "indiquez aussi {structure}.",
    "cli.since": "{option} « {value} » : une date ISO 8601 est attendue (par exemple "
    "2026-12-01 ou 2026-12-01T09:30).",
    "cli.no_captcha": "Le portail de développement n'a encore affiché aucun captcha.",
    "cli.no_slapd": "Aucun slapd local trouvé : indiquez-le avec {conf} ou {dir}.",
    "cli.operator_only": "La sauvegarde et la restauration sont faites par l'opérateur du "
    "nœud, jamais au nom d'un partenaire.",
    # -- OIDC clients and federations (workflows/oidc.py; `apexdir app oidc …`)
    "oidc.redirect_uri": "Adresse de redirection « {value} » refusée : saisissez une adresse "
    "absolue en https:// sans fragment (http:// seulement sur la machine locale).",
    "oidc.redirect_needed": "Indiquez au moins une adresse de redirection.",
    "oidc.federation_uris_needed": "Indiquez au moins une adresse de redirection et une "
    "adresse de retour après déconnexion.",
    "oidc.federation_name": "Nom de fédération invalide : de 1 à 64 caractères imprimables.",
    "oidc.federation_name_letter": "Nom de fédération « {value} » refusé : il doit contenir "
    "au moins une lettre.",
    "oidc.signing_alg": "Algorithme de signature « {value} » inconnu : choisissez parmi {known}.",
}


def text(code: str, params: Mapping[str, Any] | None = None) -> str:
    """The French message of `code` with its `params`; a code missing from the catalogue
    is a programming error (KeyError), caught by the tests, never a blank for a partner."""
    return CATALOGUE[code].format(**(params or {}))


def sentence(value: str) -> str:
    """A capital first, a full stop last: how a message reads on a page."""
    value = value.strip()
    if not value:
        return value
    value = value[0].upper() + value[1:]
    return value if value[-1] in ".!?…" else value + "."


def render(exc: ApexError) -> str:
    """An error as a partner reads it: its catalogue entry when it has a code (the message
    it was raised with otherwise, for the raise sites not migrated yet), each detail (a
    password's unmet rules) after it as its own sentence."""
    main = text(exc.code, exc.params) if exc.code else exc.message
    parts = [sentence(main), *(sentence(d) for d in exc.details)]
    return " ".join(p for p in parts if p)
