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
# Characters a reader takes for the dot of a domain name. NFKC already turns the one dot
# leader (U+2024), the small full stop (U+FE52) and the fullwidth forms into "."; these stay
# themselves and are mapped here: the ideographic stops IDNA reads as dots, and every
# middle or raised dot a mail client draws between two words (« evil·com »). The price: the
# point médian of inclusive writing (« salarié·es ») reads as a dot too, and is refused.
_DOTS = str.maketrans(
    dict.fromkeys(
        "\u00b7\u0387\u0589\u06d4\u0701\u0702\u1427\u16eb\u2027\u2219\u22c5\u2981"
        "\u2e31\u2e33\u2e3c\u3002\u30fb\uff0e\uff61\uff65\ua78f",
        ".",
    )
)
# Top-level domains common enough to be joined when a space is put before them after a
# dot, or a word dot/point stands for it (« evil. com », « evil dot com »). Kept to those
# that are not French words, so that « Doublon. De plus » stays a sentence.
_TLDS = r"(?:com|net|org|fr|eu|io|info|biz|gouv|xyz|online|app|dev|ru|cn|tk|shop|ly|uk|ch)"
# Defanged links, the way threat reports and phishers write them so that no filter sees
# them: evil[.]com, evil(dot)com, hxxps[:]//, aide[@]evil. Turned back into what they mean.
_DEFANGED = (
    (re.compile(r"\s*[\[({]\s*(?:\.|dot|point)\s*[\])}]\s*", re.IGNORECASE), "."),
    (re.compile(r"\s*[\[({]\s*(?:@|at|arobase)\s*[\])}]\s*", re.IGNORECASE), "@"),
    (re.compile(r"[\[({]\s*(:|/|://)\s*[\])}]"), r"\1"),
    (re.compile(r"\b(h)(?:xx|\*\*|__)(ps?)(?=\W)", re.IGNORECASE), r"\1tt\2"),
    (re.compile(r"\s+\."), "."),  # « evil .com »: French puts no space before a dot
    (re.compile(rf"\.\s+(?={_TLDS}(?![\w-]))", re.IGNORECASE), "."),
    (re.compile(rf"\s+(?:dot|point)\s+(?={_TLDS}(?![\w-]))", re.IGNORECASE), "."),
)
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


# Phone numbers: a reason must not send the invitee to a number nobody at DGFiP answers.
# Separators between digits are whatever a person types (space, dot, dash, slash, brackets).
_SEP = r"[\s.\-/()]*"
_PHONES = (
    # French: 0 then 9 digits (01 89 00 00 00, 0 800 123 456), not inside a longer number,
    # so that a SIRET (732 829 320 00074) or an amount (1 000 000) stays.
    re.compile(rf"(?<!\d)0{_SEP}[1-9](?:{_SEP}\d){{8}}(?!{_SEP}\d)"),
    # International: +CC or 00CC, then at least 6 digits (+33 (0)1 89…, +1 202 555 0100).
    re.compile(rf"(?:\+|(?<!\d)00){_SEP}[1-9]\d{{0,2}}(?:{_SEP}\d){{6,}}"),
)


def _canonical(text: str) -> str:
    """What a reader makes of `text`: compatibility forms as their plain forms (fullwidth
    letters, digits and dots), every dot look-alike as a dot, every digit as an ASCII one,
    defanged links rebuilt. The filters read this; the mail quotes the text as typed."""
    plain = unicodedata.normalize("NFKC", text).translate(_DOTS)
    plain = _DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), plain)
    for pattern, replacement in _DEFANGED:
        plain = pattern.sub(replacement, plain)
    return plain


_DIGIT = re.compile(r"[^\W\D]")  # a decimal digit of any script, ASCII ones included


def _shown(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "…"


def validate_reason(value: str | None) -> str:
    """The reason with its whitespace folded, or `Invalid` saying what to change.

    At most 500 characters, no control or invisible format character, no link nor anything
    that reads as one (scheme, "www.", domain name, e-mail address, IP address — look-alike
    dots and defanged forms included), no phone number, no markup.
    """
    raw = value or ""
    for char in raw:
        if char not in _FOLDED and unicodedata.category(char) in _CONTROL_CATEGORIES:
            code = f"U+{ord(char):04X}"
            raise Invalid(code="refusal.control", params={"char": code}, field="reason")
    text = " ".join(raw.split())
    if not text:
        raise Invalid(code="refusal.required", field="reason")
    if len(text) > MAX_LENGTH:
        raise Invalid(
            code="refusal.too_long", params={"length": len(text), "max": MAX_LENGTH}, field="reason"
        )
    plain = _canonical(text)
    for pattern in _PHONES:
        found = pattern.search(plain)
        if found:
            shown = _shown(found.group(0).strip())
            raise Invalid(code="refusal.phone", params={"value": shown}, field="reason")
    for pattern in _LINKS:
        found = pattern.search(plain)
        if found:
            shown = _shown(found.group(0))
            raise Invalid(code="refusal.link", params={"value": shown}, field="reason")
    markup = _MARKUP.search(plain)
    if markup:
        shown = _shown(plain[markup.start() : markup.start() + 20])
        raise Invalid(code="refusal.markup", params={"value": shown}, field="reason")
    return text
