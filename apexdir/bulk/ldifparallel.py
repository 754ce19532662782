"""A big import LDIF read in pieces, in parallel: the checking pool's processes read pieces
from the start and this one from the end, each running the accounts' own checks too
(`checks.check_accounts`); the pieces are merged in file order, so that items, problems and
line numbers are those of one pass."""

from __future__ import annotations

import marshal
import sys
from concurrent.futures import Future

from apexdir.bulk.checks import INHERITED, Pool, check_accounts, gc_paused
from apexdir.bulk.items import (
    AccountItem,
    ApplicationItem,
    Parsed,
    Problem,
    ProfileItem,
    ServiceItem,
    StructureItem,
)
from apexdir.bulk.ldifentries import Reader
from apexdir.bulk.ldifsyntax import unfolded
from apexdir.directory.layout import Layout


def pieces(text: str, count: int) -> list[tuple[int, int, int]]:
    """(start, end, line of start) of ≈ `count` pieces of `text` that each begin a record: a
    piece ends after an empty line, which ends any record in `ldifsyntax.unfolded`."""
    bounds = [(0, 1)]
    step = max(1, len(text) // count)
    start, line = 0, 1
    while True:
        cut = text.find("\n\n", start + step)
        if cut < 0:
            break
        cut += 2
        line += text.count("\n", start, cut)
        bounds.append((cut, line))
        start = cut
    ends = [b[0] for b in bounds[1:]] + [len(text)]
    return [(a, end, n) for (a, n), end in zip(bounds, ends, strict=True) if end > a]


def read_piece(text: str, first_line: int, layout: Layout) -> Parsed:
    """One piece of a file (`pieces`), read and its accounts checked: a worker's job."""
    with gc_paused():
        reader = Reader(layout)
        unfolded(text, reader, first_line)
        check_accounts([i for i in reader.parsed.items if isinstance(i, AccountItem)])
        return reader.parsed


ITEM_KINDS = (StructureItem, ServiceItem, ApplicationItem, ProfileItem, AccountItem)


def read_packed(text: str, first_line: int, layout: Layout) -> bytes:
    """`read_piece` in a worker, its result as marshal of plain tuples: half the cost of
    pickling the dataclasses, both ways (a big file's items cross by the hundred thousand,
    and this process unpacks them while it reads pieces of its own)."""
    parsed = read_piece(text, first_line, layout)
    kinds = {kind: index for index, kind in enumerate(ITEM_KINDS)}
    return marshal.dumps(
        (
            parsed.records,
            [(p.line, p.reason) for p in parsed.problems],
            # A dataclass's __dict__ holds its fields in their order (set by __init__).
            [(kinds[type(i)], *i.__dict__.values()) for i in parsed.items],
        )
    )


def read_inherited(start: int, end: int, first_line: int, layout: Layout) -> bytes:
    """`read_packed` of a piece of the text this worker was forked with (`Pool.start`)."""
    return read_packed(INHERITED["text"][start:end], first_line, layout)


def unpack(data: bytes) -> Parsed:
    records, problems, items = marshal.loads(data)
    return Parsed(
        items=[ITEM_KINDS[row[0]](*row[1:]) for row in items],
        problems=[Problem(*p) for p in problems],
        records=records,
        format="ldif",
    )


def read_parallel(text: str, layout: Layout, pool: Pool, count: int) -> Parsed:
    """`pieces` read by the pool's processes and by this one, merged in file order: the same
    items, problems and line numbers as one pass over the whole text."""
    interval = sys.getswitchinterval()
    # The executor's threads here read a worker's result 64 KiB at a time, each read waiting
    # for this thread to yield the GIL (every 5 ms by default): the worker, blocked until its
    # result is read, stood idle ≈ 0.2 s a piece.
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        return _read_parallel(text, layout, pool, count)
    finally:
        sys.setswitchinterval(interval)


def _read_parallel(text: str, layout: Layout, pool: Pool, count: int) -> Parsed:
    bounds = pieces(text, count)
    inherited = pool.start(text=text)
    parts: list[Parsed | Future[bytes] | None] = [None] * len(bounds)
    front, back = 0, len(bounds) - 1
    while front <= back:
        # The workers take pieces from the start, two each at most so that one is queued
        # when one ends (a piece submitted is theirs: the executor queues it at once);
        # this process takes the last piece left meanwhile, then tops them up again.
        running = sum(1 for p in parts[:front] if isinstance(p, Future) and not p.done())
        while front <= back and running < 2 * pool.workers:
            a, b, n = bounds[front]
            if inherited:
                parts[front] = pool.executor.submit(read_inherited, a, b, n, layout)
            else:
                parts[front] = pool.executor.submit(read_packed, text[a:b], n, layout)
            front, running = front + 1, running + 1
        if front <= back:
            a, b, n = bounds[back]
            parts[back] = read_piece(text[a:b], n, layout)
            back -= 1
        for index, part in enumerate(parts[:front]):  # unpacked meanwhile, not all at the end
            if isinstance(part, Future) and part.done():
                parts[index] = unpack(part.result())
    merged = Parsed(format="ldif")
    for part in parts:
        done = unpack(part.result()) if isinstance(part, Future) else part
        assert done is not None
        merged.items += done.items
        merged.problems += done.problems
        merged.records += done.records
    return merged
