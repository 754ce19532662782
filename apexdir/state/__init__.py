"""Node-local state in SQLite: the mail/SMS spool, the journal and the daemon's job cursors.

Only this package touches SQLite; everything durable that every node must see lives in the
directory instead (SPEC §9).
"""
