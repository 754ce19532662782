"""The benchmark's data set, generated deterministically (a fixed seed).

Full size (issue 6): 1,000 structures × 5 services, 100,000 accounts, 20 profiles (5
applications × 4) carrying 50,000 habilitations. One structure holds 1,000 accounts (the
consultation figure); the others share the rest. Smaller runs scale everything down.

Accounts carry a `{PBKDF2-SHA512}` password, hashed the way apexdir stores them
(apexdir.directory.hashing). Hashing 100,000 passwords at 10,000 iterations would take
minutes, so a pool of `PASSWORD_POOL` hashes (each its own salt and password) is cycled:
binds cost slapd exactly what they would with one hash per account.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from stdnum import luhn

from apexdir.clock import to_generalized_time
from apexdir.directory import ldif
from apexdir.directory.hashing import pbkdf2_sha512
from apexdir.directory.layout import Layout
from apexdir.rules import identifiers


def words(text: str) -> tuple[str, ...]:
    """A long list of names written as one string, split on spaces."""
    return tuple(text.split())


SEED = 20240229
PASSWORD_POOL = 16
SERVICES_PER_STRUCTURE = 5
APPLICATIONS = ("ADELIE", "FICOBA", "PATRIM", "EDI-TVA", "SATELIT")
PROFILES_PER_APPLICATION = 4
BIG_STRUCTURE_ACCOUNTS = 1000

FIRST_NAMES = words(
    "Marie Jean Pierre Michel Philippe Alain Nathalie Isabelle Sylvie Catherine Françoise "
    "Christophe Stéphane Sébastien Frédéric Laurent Olivier Nicolas Éric Patrick Sandrine "
    "Valérie Céline Aurélie Julien Thomas Camille Léa Chloé Manon Inès Zoé Hélène Noël "
    "Anaïs Gaëlle Loïc Maël Jérôme Benoît Agnès Béatrice Cécile Joëlle Thérèse Hervé "
    "Jean-Pierre Marie-Claude Anne-Sophie Jean-Luc Louis Hugo Arthur Jules Lucas Emma Alice"
)
LAST_NAMES = words(
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefèvre "
    "Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc "
    "Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez "
    "Fontaine Chevalier Robin Masson Sanchez Gérard Nguyen Boyer Denis Lemaire Duval Joly "
    "Gautier Roger Roche Roy Noël Meyer Lucas Meunier Jean Pérez Marchand Dufour Blanchard "
    "Marie Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez Pierre Renard Arnaud "
    "Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud Lemoine Picard Gaillard "
    "Philippe Leclercq Lacroix Fabre Dupuis Olivier Rodriguez Da-Silva Hubert Louis Charles "
    "Guillot Rivière Le-Gall Guillaume Adam Rey Moulin Gonzalez Berger Lecomte Ménard "
    "Fleury Deschamps Carpentier Julien Benoît Paris Maillard Marchal Aubry Vasseur "
    "Le-Roux Renault Jacquet Collet Prévost Poirier Charpentier Royer Huet Baron Dupuy "
    "Pons Paul Laine Carré Breton Rémy Schneider Perrot Guyot Barre Marty Cousin"
)
PARTICLES = ("", "", "", "", "", "", "de ", "d'", "Le ", "de la ")


@dataclass
class Dataset:
    """What was generated, and what the measures need to know about it."""

    layout: Layout
    records: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)
    # identifier → index in `passwords`
    password_of: dict[str, int] = field(default_factory=dict)
    big_siret: str = ""
    structures: int = 0
    services: int = 0
    accounts: int = 0
    profiles: int = 0
    habilitations: int = 0

    @property
    def entries(self) -> int:
        return len(self.records)

    def identifiers(self) -> list[str]:
        return list(self.password_of)

    def ldif_text(self) -> Iterator[str]:
        return ldif.dump(self.records)

    def write(self, path: str, *, aged: bool = False, now: datetime | None = None) -> None:
        """The data set as LDIF for ldapadd, apexdir import and slapadd; `aged` adds the
        pwdChangedTime of a directory in service (slapadd takes it, ldapadd would not)."""
        with open(path, "w", encoding="utf-8") as out:
            records = self.aged_records(now or datetime.now(UTC)) if aged else self.records
            for chunk in ldif.dump(records):
                out.write(chunk)

    def aged_records(self, now: datetime) -> Iterator[tuple[str, dict[str, list[str]]]]:
        """Passwords renewed every 90 days (the default pwdMaxAge): changed uniformly over
        the last 90 days, and 3 % of the accounts late (expired up to 30 days ago)."""
        rng = random.Random(SEED + 1)
        for dn, attrs in self.records:
            if "userPassword" in attrs:
                days = rng.uniform(90, 120) if rng.random() < 0.03 else rng.uniform(0, 90)
                changed = to_generalized_time(now - timedelta(days=days))
                attrs = {**attrs, "pwdChangedTime": [changed]}
            yield dn, attrs


def siret_number(index: int) -> str:
    """A valid SIRET: a SIREN with its Luhn key, then an establishment number whose key
    makes the 14 digits pass Luhn too; never La Poste's SIREN (356000000)."""
    siren = f"7{index:07d}"
    siren += luhn.calc_check_digit(siren)
    body = f"{siren}{index % 10000:04d}"
    return body + luhn.calc_check_digit(body)


def generate(
    layout: Layout,
    accounts: int = 100_000,
    *,
    seed: int = SEED,
    hasher: Callable[[str], str] = pbkdf2_sha512,
) -> Dataset:
    """The data set; `hasher` makes the pool's hashes (benchmarks/grants.py: {ARGON2}, as
    production stores them)."""
    rng = random.Random(seed)
    data = Dataset(layout=layout)
    data.passwords = [f"Bench-Passw0rd!{i:02d}" for i in range(PASSWORD_POOL)]
    hashes = [hasher(p) for p in data.passwords]
    n_structures = max(2, accounts // 100)
    big = min(BIG_STRUCTURE_ACCOUNTS, accounts // 4)
    rest = accounts - big
    per_structure = [big] + [
        rest // (n_structures - 1) + (1 if i < rest % (n_structures - 1) else 0)
        for i in range(n_structures - 1)
    ]
    profiles = [
        (app, f"PROFIL_{p + 1}") for app in APPLICATIONS for p in range(PROFILES_PER_APPLICATION)
    ]
    profile_dns = [layout.profile_dn(app, name) for app, name in profiles]
    members: list[list[str]] = [[] for _ in profiles]
    accounts_out: list[tuple[str, dict[str, list[str]]]] = []
    taken: dict[str, set[str]] = {}
    n = 0
    for s, count in enumerate(per_structure):
        siret = siret_number(s + 1)
        sdn = layout.structure_dn(siret)
        if s == 0:
            data.big_siret = siret
        data.records.append(
            (
                sdn,
                {
                    "objectClass": ["apexStructure"],
                    "apexSiret": [siret],
                    "apexCategory": ["Notaires, Géomètres-Experts" if s % 3 else "Banques"],
                    "o": [f"Étude {rng.choice(LAST_NAMES)} et associés n°{s + 1}"],
                    "postalCode": [f"{75001 + s % 20}"],
                    "l": ["Paris"],
                },
            )
        )
        service_dns = []
        for k in range(SERVICES_PER_STRUCTURE):
            sid = f"{s + 1:08d}-0000-4000-8000-{k + 1:012d}"
            service_dns.append(layout.service_dn(siret, sid))
            data.records.append(
                (
                    service_dns[-1],
                    {
                        "objectClass": ["apexService"],
                        "apexServiceId": [sid],
                        "cn": [f"Service {k + 1}"],
                    },
                )
            )
        domain = f"etude{s + 1}.example.org"
        for j in range(count):
            kind = "administrateur" if j < 2 else "responsable" if j < 7 else "collaborateur"
            first = rng.choice(FIRST_NAMES)
            last = rng.choice(PARTICLES) + rng.choice(LAST_NAMES)
            stem = identifiers.base_identifier(first, last)
            uid = identifiers.identifier(first, last, taken.setdefault(stem, set()))
            taken[stem].add(uid)
            dn = layout.account_dn(uid)
            attrs = {
                "objectClass": ["inetOrgPerson", "apexAccount"],
                "uid": [uid],
                "cn": [f"{first} {last}"],
                "sn": [last],
                "givenName": [first],
                "mail": [f"{uid.removesuffix('-px')}@{domain}"],
                "userPassword": [hashes[n % PASSWORD_POOL]],
                "apexAccountType": [kind],
                "apexStructureRef": [sdn],
                "apexStatus": ["active"],
            }
            if kind != "administrateur":
                attrs["apexServiceRef"] = [service_dns[(j - 2) % SERVICES_PER_STRUCTURE]]
            if n % 3 == 0:
                attrs["mobile"] = [f"+3361{rng.randrange(10**7):07d}"]  # 061…: mobiles
            if n % 2 == 0:  # half the accounts hold one habilitation: N/2 in all
                members[(n // 2) % len(profiles)].append(dn)
            data.password_of[uid] = n % PASSWORD_POOL
            accounts_out.append((dn, attrs))
            n += 1
    data.records.extend(accounts_out)
    for app in APPLICATIONS:
        data.records.append(
            (
                layout.application_dn(app),
                {
                    "objectClass": ["apexApplication"],
                    "apexAppCode": [app],
                    "cn": [f"Application {app}"],
                },
            )
        )
    for (app, name), dn, held in zip(profiles, profile_dns, members, strict=True):
        attrs = {"objectClass": ["apexProfile"], "cn": [name], "apexAppCode": [app]}
        if held:
            attrs["member"] = held
        data.records.append((dn, attrs))
    data.structures = n_structures
    data.services = n_structures * SERVICES_PER_STRUCTURE
    data.accounts = accounts
    data.profiles = len(profiles)
    data.habilitations = sum(len(m) for m in members)
    return data
