"""The pages' templates compiled once per process, whatever the number of applications.

Jinja keeps what it compiled in its `Environment`, and each Flask application has its own:
every `create_app` compiled the pages again on their first rendering (≈ 25 ms a page). A
gunicorn worker makes one application, but the tests make hundreds (issue 20 item 9). The
bytecode is keyed by the template's name and checked against its source's checksum by
Jinja itself: a changed template is compiled again.
"""

from __future__ import annotations

from jinja2.bccache import Bucket, BytecodeCache


class CompiledOnce(BytecodeCache):
    """Jinja's bytecode of each template, kept in memory for the process."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED = CompiledOnce()
