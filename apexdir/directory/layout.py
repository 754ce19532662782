"""The shape of the DIT: every DN apexdir reads or writes is built here, always escaped."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ldap3.utils.dn import escape_rdn


def rdn(attr: str, value: str) -> str:
    if not value:
        # escape_rdn fails on "" (it reads value[0]); an empty value names no entry, which
        # the lookup then reports as not found.
        return f"{attr}="
    # escape_rdn leaves NUL as a raw byte after a backslash; RFC 4514 wants it as \\00.
    return f"{attr}={escape_rdn(value).replace(chr(92) + chr(0), chr(92) + '00')}"


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1 : i + 3]
            if len(nxt) == 2 and all(c in "0123456789abcdefABCDEF" for c in nxt):
                out.append(bytes.fromhex(nxt).decode("latin-1"))
                i += 3
                continue
            out.append(value[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    raw = "".join(out)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


@lru_cache(maxsize=4096)  # the same structure, service and profile DNs, entry after entry
def first_rdn_value(dn: str) -> str:
    """Value of the first RDN with its escapes undone (RFC 4514)."""
    i = 0
    while i < len(dn) and dn[i] not in ",+":
        i += 2 if dn[i] == "\\" else 1
    _, _, value = dn[:i].partition("=")
    return _unescape(value)


@dataclass(frozen=True)
class Layout:
    base_dn: str

    def _under(self, ou: str) -> str:
        return f"ou={ou},{self.base_dn}"

    @property
    def system_dn(self) -> str:
        return self._under("system")

    @property
    def apps_dn(self) -> str:
        return f"ou=apps,{self.system_dn}"

    @property
    def apexdir_dn(self) -> str:
        return f"cn=apexdir,{self.system_dn}"

    @property
    def lease_dn(self) -> str:
        return f"cn=scheduler,{self.system_dn}"

    @property
    def challenges_dn(self) -> str:
        return f"ou=challenges,{self.system_dn}"

    @property
    def events_dn(self) -> str:
        """The history of the structures (issue 21 item 8): in the directory, so every
        node reads the events every node wrote."""
        return f"ou=events,{self.system_dn}"

    @property
    def reviews_dn(self) -> str:
        """The access reviews of the structures (issue 21 item 10): one entry a campaign."""
        return f"ou=reviews,{self.system_dn}"

    def review_dn(self, review_id: str) -> str:
        return f"{rdn('cn', review_id)},{self.reviews_dn}"

    def event_dn(self, event_id: str) -> str:
        return f"{rdn('cn', event_id)},{self.events_dn}"

    @property
    def oidc_dn(self) -> str:
        return f"ou=oidc,{self.system_dn}"

    @property
    def oidc_codes_dn(self) -> str:
        return f"ou=codes,{self.oidc_dn}"

    @property
    def oidc_tokens_dn(self) -> str:
        return f"ou=tokens,{self.oidc_dn}"

    @property
    def oidc_keys_dn(self) -> str:
        return f"ou=keys,{self.oidc_dn}"

    @property
    def retired_dn(self) -> str:
        """Tombstones of deleted accounts: their identifiers are never issued again."""
        return f"ou=retired,{self.system_dn}"

    @property
    def oidc_federation_dn(self) -> str:
        return f"ou=federation,{self.oidc_dn}"

    @property
    def structures_dn(self) -> str:
        return self._under("structures")

    @property
    def people_dn(self) -> str:
        return self._under("people")

    @property
    def applications_dn(self) -> str:
        return self._under("applications")

    @property
    def requests_dn(self) -> str:
        return self._under("requests")

    @property
    def policies_dn(self) -> str:
        return self._under("policies")

    @property
    def default_policy_dn(self) -> str:
        return f"cn=default,{self.policies_dn}"

    @property
    def system_policy_dn(self) -> str:
        return f"cn=system,{self.policies_dn}"

    @property
    def admin_dn(self) -> str:
        return f"cn=admin,{self.base_dn}"

    def account_dn(self, identifier: str) -> str:
        return f"{rdn('uid', identifier)},{self.people_dn}"

    def tombstone_dn(self, identifier: str) -> str:
        return f"{rdn('uid', identifier)},{self.retired_dn}"

    def structure_dn(self, siret: str) -> str:
        return f"{rdn('apexSiret', siret)},{self.structures_dn}"

    def service_dn(self, siret: str, service_id: str) -> str:
        return f"{rdn('apexServiceId', service_id)},{self.structure_dn(siret)}"

    def application_dn(self, code: str) -> str:
        return f"{rdn('apexAppCode', code)},{self.applications_dn}"

    def profile_dn(self, code: str, profile: str) -> str:
        return f"{rdn('cn', profile)},{self.application_dn(code)}"

    def request_dn(self, request_id: str) -> str:
        return f"{rdn('apexRequestId', request_id)},{self.requests_dn}"

    def challenge_dn(self, challenge_id: str) -> str:
        return f"{rdn('cn', challenge_id)},{self.challenges_dn}"

    def oidc_client_dn(self, code: str) -> str:
        # Named by its own attribute, not cn: a profile may be called anything (even "oidc").
        return f"{rdn('apexOidcClientId', code)},{self.application_dn(code)}"

    def federation_client_dn(self, client_id: str) -> str:
        return f"{rdn('apexOidcClientId', client_id)},{self.oidc_federation_dn}"

    def oidc_code_dn(self, digest: str) -> str:
        return f"{rdn('cn', digest)},{self.oidc_codes_dn}"

    def oidc_token_dn(self, digest: str) -> str:
        return f"{rdn('cn', digest)},{self.oidc_tokens_dn}"

    def oidc_key_dn(self, kid: str) -> str:
        return f"{rdn('cn', kid)},{self.oidc_keys_dn}"

    def app_account_dn(self, code: str) -> str:
        return f"{rdn('cn', code)},{self.apps_dn}"

    def template_vars(self) -> dict[str, str]:
        names = [
            "base_dn",
            "system_dn",
            "apps_dn",
            "apexdir_dn",
            "lease_dn",
            "challenges_dn",
            "events_dn",
            "reviews_dn",
            "oidc_dn",
            "oidc_codes_dn",
            "oidc_tokens_dn",
            "oidc_keys_dn",
            "retired_dn",
            "oidc_federation_dn",
            "structures_dn",
            "people_dn",
            "applications_dn",
            "requests_dn",
            "policies_dn",
            "default_policy_dn",
            "system_policy_dn",
            "admin_dn",
        ]
        out = {name: getattr(self, name) for name in names}
        out["dc"] = first_rdn_value(self.base_dn) if self.base_dn.lower().startswith("dc=") else ""
        out["policy_dn"] = self.default_policy_dn
        return out
