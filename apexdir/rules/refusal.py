"""The reason of a refused creation (SPEC §5): free text quoted in a mail DGFiP signs.

Whoever refuses writes it and the invitee reads it in an official mail: it must not be a way
to send a link, markup or a look-alike layout under DGFiP's name. Plain text only, short,
without links nor control characters. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata

from apexdir.errors import Invalid

MAX_LENGTH = 500
# Line breaks and tabs are ordinary in a typed text: they are folded into spaces (the mail
# quotes the reason on one line), so they cannot lay out anything.
_FOLDED = frozenset("\t\n\r")
# Cc: C0/C1 controls (escape sequences, NUL…); Cf: invisible format characters, e.g. the
# bidirectional overrides that display "moc.elpmaxe" as "example.com"; Cs: lone surrogates
# (undecodable input), which no mail or directory can carry.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
# Dots that IDNA and mail clients read as the dot of a domain name.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_LINKS = (
    re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE),  # http://, https://, ftp://…
    re.compile(r"\b(?:mailto|javascript|vbscript|data|file):", re.IGNORECASE),
    re.compile(r"\bwww\d{0,3}\.", re.IGNORECASE),
    # A host name: labels joined by dots ending with an alphabetic top-level domain
    # (impots.gouv.fr, dgfip-secure.com/connexion, contact@exemple.fr); digits-only parts
    # (« 1.5 », « art. 12 ») do not match.
    re.compile(r"(?<![\w-])(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-])"),
    re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])"),  # an IPv4 address
)
# A tag, a processing instruction, a comment or a declaration opens with "<" and a letter,
# "/", "?" or "!" right after it: "a < b" and "<3" stay.
_MARKUP = re.compile(r"<[!/?a-z]", re.IGNORECASE)


def _shown(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "…"


def validate_reason(value: str | None) -> str:
    """The reason with its whitespace folded, or `Invalid` saying what to change.

    At most 500 characters, no control or invisible format character, no link nor anything
    that reads as one (scheme, "www.", domain name, e-mail address, IP address), no markup.
    """
    raw = value or ""
    for char in raw:
        if char not in _FOLDED and unicodedata.category(char) in _CONTROL_CATEGORIES:
            code = f"U+{ord(char):04X}"
            raise Invalid(
                f"Motif du refus invalide : il contient un caractère de contrôle ({code}) : "
                "seul du texte simple est accepté"
            )
    text = " ".join(raw.split())
    if not text:
        raise Invalid("Motif du refus obligatoire : indiquez pourquoi la création est refusée")
    if len(text) > MAX_LENGTH:
        raise Invalid(f"Motif du refus trop long : {len(text)} caractères, {MAX_LENGTH} au plus")
    # Compatibility forms (fullwidth letters and dots…) read as their plain forms.
    plain = unicodedata.normalize("NFKC", text).translate(_DOTS)
    for pattern in _LINKS:
        found = pattern.search(plain)
        if found:
            raise Invalid(
                "Motif du refus invalide : il ne doit contenir ni lien, ni adresse de site ou "
                f"de messagerie (« {_shown(found.group(0))} »)"
            )
    markup = _MARKUP.search(plain)
    if markup:
        raise Invalid(
            "Motif du refus invalide : seul du texte simple est accepté, sans balise "
            f"(« {_shown(plain[markup.start() : markup.start() + 20])} »)"
        )
    return text
