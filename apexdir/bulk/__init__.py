"""Bulk loads: `apexdir import` (CSV or LDIF) and `apexdir migrate-v1` (an APEX v1 export).

The formats are documented in docs/import.md and in the readers' docstrings:
`apexdir.bulk.csvfile` (import CSV), `apexdir.bulk.ldiffile` (import LDIF), `apexdir.bulk.v1`
(APEX v1 export). Every reader produces the same items (`apexdir.bulk.items`); one validator
(`apexdir.bulk.validate`) turns them into a plan against the directory's current content,
read with one search per kind; `apexdir.bulk.load` writes the plan online (pipelined) or as
LDIF for slapadd, and `apexdir.bulk.run` ties the steps together for the CLI.
"""
