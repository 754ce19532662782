#!/usr/bin/env python3
"""How a DGFiP application authenticates an APEX partner and reads his profiles (ldap3).

Copy and adapt. The application holds its own service account, made by an agent with
`apexdir app credentials CODE --output app.pw`. Then, for each login:

1. bind as the application and find the partner's entry by identifier (uid);
2. bind as that entry with the password the partner typed: slapd checks it, and its
   password policy refuses a locked or expired account (a pending or deleted account has
   no entry at all);
3. read the profiles from memberOf: cn=<PROFILE>,apexAppCode=<APP>,ou=applications,<base>.

Usage (password on standard input, never on the command line):
    APEX_LDAP_URI=ldap://ldap.example:389 APEX_BASE_DN=dc=apex,... \\
    APEX_APP_DN=cn=CODE,ou=apps,ou=system,dc=apex,... APEX_APP_PASSWORD_FILE=app.pw \\
    python application_auth.py marie.martin-px < password.txt
Prints the partner's profiles as JSON; exit status 1 when authentication fails.
"""

import json
import os
import sys

import ldap3
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

PPOLICY = "1.3.6.1.4.1.42.2.27.8.5.1"  # ask slapd why a bind fails (locked, expired)


def profiles_of(member_of):
    """'cn=LECTURE,apexAppCode=IMPOT,ou=applications,…' → 'IMPOT/LECTURE'."""
    found = []
    for dn in member_of:
        rdns = parse_dn(dn, escape=False)
        found.append(f"{rdns[1][1]}/{rdns[0][1]}")
    return sorted(found)


def refusal(result):
    """Why slapd refused a bind, from its password-policy control (BER: 30 03 81 01 <code>).
    apexdir decodes it fully with pyasn1 (apexdir/directory/ppolicy.py)."""
    value = ((result.get("controls") or {}).get(PPOLICY) or {}).get("value") or b""
    if len(value) == 5 and value[2] == 0x81:
        return {0: "password expired", 1: "account locked"}.get(value[4], "refused")
    return "invalid credentials"


def authenticate(uri, base_dn, app_dn, app_password, identifier, password):
    server = ldap3.Server(uri, connect_timeout=5)
    # 1. as the application: find the partner (the filter value is escaped, RFC 4515)
    with ldap3.Connection(server, app_dn, app_password, auto_bind=True, receive_timeout=10) as app:
        app.search(
            f"ou=people,{base_dn}",
            f"(uid={escape_filter_chars(identifier)})",
            attributes=["uid", "memberOf", "apexStatus", "apexAccountType"],
        )
        found = [r for r in app.response if r["type"] == "searchResEntry"]
        if len(found) != 1:
            return None, "unknown"
        dn, attrs = found[0]["dn"], found[0]["attributes"]
        if attrs.get("apexStatus") not in (None, [], "active"):
            return None, "inactive"
        profiles = profiles_of(attrs.get("memberOf") or [])
        kind = attrs.get("apexAccountType")
    # 2. as the partner: slapd checks the password and applies its policy. An empty
    #    password would be an anonymous bind, which succeeds: never send one.
    if not password:
        return None, "invalid credentials"
    partner = ldap3.Connection(server, dn, password, receive_timeout=10)
    try:
        if not partner.bind(controls=[(PPOLICY, False, None)]):
            return None, refusal(partner.result)
    finally:
        partner.unbind()
    return {"identifier": identifier, "dn": dn, "type": kind, "profiles": profiles}, "ok"


def main():
    identifier = sys.argv[1]
    with open(os.environ["APEX_APP_PASSWORD_FILE"], encoding="utf-8") as handle:
        app_password = handle.read().strip()
    password = sys.stdin.readline().rstrip("\n")
    user, reason = authenticate(
        os.environ["APEX_LDAP_URI"],
        os.environ["APEX_BASE_DN"],
        os.environ["APEX_APP_DN"],
        app_password,
        identifier,
        password,
    )
    if user is None:
        print(f"authentication failed: {reason}", file=sys.stderr)
        return 1
    print(json.dumps(user, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
