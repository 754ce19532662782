"""Mails: French templates (one `.txt` + `.html` pair per mail), rendering, SMTP transport.

Workflows render and queue; only the daemon's outbox job talks to the SMTP server.
"""
