"""The OpenID Connect provider of the portal (PORTAL.md, last section).

`models` holds the plain objects Authlib works with, `store` keeps them in the directory
(clients under their application, codes, tokens and signing keys under the system branch) so
that any node answers any step, `claims` says what an application learns of an account, and
`provider` wires Authlib's authorization server to them. The Flask views are the portal's
(`apexdir.portal.views.oidc`).
"""
