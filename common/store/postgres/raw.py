"""Statements in PostgreSQL's own text: the store's `?` placeholders numbered `$1`, `$2`, …,
run on psycopg's RawCursor, which sends a query's text as it is.

psycopg's usual cursor reads `%s` placeholders by parsing each query's text on the client;
it caches what it parsed only for queries of at most 50 parameters (psycopg/_queries.py,
MAX_CACHED_STATEMENT_PARAMS), so a statement with a VALUES list of many rows (a batch's
INSERTs, its tasks held or completed) was parsed again on every execute, on the writer
thread, holding the GIL: measured, 16 % of the writer's time in a batch of new leads.
Numbering the placeholders here costs once a statement text (cached), whatever its size.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import psycopg

from common.store.sql import Params


@lru_cache(maxsize=1024)
def dialect(sql: str) -> str:
    """`?` placeholders as `$1`, `$2`, … (no `?` is ever inside a literal in the store's SQL)."""
    parts = sql.split("?")
    numbered = [part + f"${n}" for n, part in enumerate(parts[:-1], start=1)]
    return "".join([*numbered, parts[-1]])


def execute(conn: psycopg.Connection[Any], sql: str, params: Params = ()) -> psycopg.Cursor[Any]:
    """Run one of the store's statements (with `?` placeholders) on `conn`."""
    return psycopg.RawCursor(conn).execute(dialect(sql), params)


def cursor(conn: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """A cursor that takes `dialect`'s text (for `executemany`)."""
    return psycopg.RawCursor(conn)
