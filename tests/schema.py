"""A database's schema read from SQLite or PostgreSQL into one vocabulary, and the differences
between two such readings, for the schema parity tests."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import NamedTuple

import psycopg

BOOKKEEPING = {"schema_migrations"}  # PostgreSQL's version table (SQLite has user_version)


class Column(NamedTuple):
    type: str  # the common vocabulary: integer, text, real, numeric, blob, timestamp
    declared: str  # the engine's own name for it, to compare a database with its own engine
    not_null: bool
    default: str | None
    primary_key: int  # position in the primary key, 0 when not in it
    serial: bool  # numbered by the database (AUTOINCREMENT, identity)


class Index(NamedTuple):
    columns: tuple[str, ...]
    unique: bool
    where: str | None  # a partial index's predicate


class Table(NamedTuple):
    columns: dict[str, Column]  # in the table's order
    indexes: dict[str, Index]  # a UNIQUE constraint's is named "unique(a, b)" on both engines


Schema = dict[str, Table]

# What a declared type means, by SQLite's affinity rules (the first that matches) and by
# PostgreSQL's data_type; anything else is kept as declared, so it shows as a difference.
SQLITE_AFFINITY = (("INT", "integer"), ("CHAR", "text"), ("CLOB", "text"), ("TEXT", "text"))
SQLITE_REAL = ("REAL", "FLOA", "DOUB")
POSTGRES_TYPES = {
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "text": "text",
    "character varying": "text",
    "real": "real",
    "double precision": "real",
    "numeric": "numeric",
    "bytea": "blob",
    "timestamp with time zone": "timestamp",
}
CAST = re.compile(r"::[a-z]+(?: [a-z]+)*")  # PostgreSQL prints 'open'::text for 'open'


def sqlite_type(declared: str) -> str:
    upper = declared.upper()
    for part, vocabulary in SQLITE_AFFINITY:
        if part in upper:
            return vocabulary
    if not upper or "BLOB" in upper:
        return "blob"
    return "real" if any(part in upper for part in SQLITE_REAL) else "numeric"


def expression(text: str | None) -> str | None:
    """A default or a partial index's predicate, as both engines would print it."""
    if text is None:
        return None
    text = " ".join(CAST.sub("", text).split())
    while text.startswith("(") and text.endswith(")") and _wraps(text):
        text = text[1:-1].strip()
    return text


def _wraps(text: str) -> bool:
    """Whether the opening parenthesis closes at the very end (so it wraps the whole)."""
    depth = 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return position == len(text) - 1
    return False


def describe_sqlite(path: Path | str) -> Schema:
    """Tables, columns and indexes of a SQLite file, from its PRAGMAs and sqlite_master."""
    conn = sqlite3.connect(path)
    try:
        tables = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        return {
            name: Table(_sqlite_columns(conn, name, sql), _sqlite_indexes(conn, name))
            for name, sql in tables
            if name not in BOOKKEEPING
        }
    finally:
        conn.close()


def _sqlite_columns(conn: sqlite3.Connection, table: str, sql: str) -> dict[str, Column]:
    columns = {}
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    for _, name, declared, not_null, default, pk in info:
        serial = pk == 1 and declared.upper() == "INTEGER" and "AUTOINCREMENT" in sql.upper()
        # A primary key column is NOT NULL on PostgreSQL; SQLite lets a non-INTEGER one hold
        # NULL only by an old bug kept for compatibility, which no code of ours relies on.
        columns[name] = Column(
            sqlite_type(declared), declared, bool(not_null or pk), expression(default), pk, serial
        )
    return columns


def _sqlite_indexes(conn: sqlite3.Connection, table: str) -> dict[str, Index]:
    indexes = {}
    for _, name, unique, origin, _ in conn.execute(f"PRAGMA index_list({table})").fetchall():
        if origin == "pk":
            continue  # the primary key is compared as the columns' primary_key
        columns = tuple(row[2] for row in conn.execute(f"PRAGMA index_info({name})"))
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
        where = re.search(r"\bWHERE\b(.*)$", row[0] or "", re.S | re.I) if row else None
        key = f"unique({', '.join(columns)})" if origin == "u" else name
        indexes[key] = Index(columns, bool(unique), expression(where.group(1) if where else None))
    return indexes


def describe_postgres(url: str) -> Schema:
    """Tables, columns and indexes of a PostgreSQL database's current schema, from
    information_schema and pg_indexes."""
    with psycopg.connect(url) as conn:
        names = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
        return {
            name: Table(_postgres_columns(conn, name), _postgres_indexes(conn, name))
            for (name,) in names
            if name not in BOOKKEEPING
        }


def _postgres_columns(conn: psycopg.Connection, table: str) -> dict[str, Column]:
    rows = conn.execute(
        "SELECT c.column_name, c.data_type, c.is_nullable, c.column_default, c.is_identity,"
        "       coalesce(k.ordinal_position, 0)"
        " FROM information_schema.columns c"
        " LEFT JOIN information_schema.table_constraints t"
        "   ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        "  AND t.constraint_type = 'PRIMARY KEY'"
        " LEFT JOIN information_schema.key_column_usage k"
        "   ON k.constraint_name = t.constraint_name AND k.table_schema = t.table_schema"
        "  AND k.column_name = c.column_name"
        " WHERE c.table_schema = current_schema() AND c.table_name = %s"
        " ORDER BY c.ordinal_position",
        (table,),
    ).fetchall()
    return {
        name: Column(
            POSTGRES_TYPES.get(declared, declared),
            declared,
            nullable == "NO",
            expression(default),
            int(pk),
            identity == "YES",
        )
        for name, declared, nullable, default, identity, pk in rows
    }


INDEX_DEF = re.compile(
    r"^CREATE (?P<unique>UNIQUE )?INDEX \S+ ON \S+ USING \w+ \((?P<columns>[^)]*)\)"
    r"(?: WHERE (?P<where>.*))?$",
    re.S,
)


def _postgres_indexes(conn: psycopg.Connection, table: str) -> dict[str, Index]:
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef, c.contype FROM pg_indexes i"
        " LEFT JOIN pg_constraint c ON c.conindid ="
        "   (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass"
        " WHERE i.schemaname = current_schema() AND i.tablename = %s",
        (table,),
    ).fetchall()
    indexes = {}
    for name, definition, constraint in rows:
        if constraint == "p":
            continue  # the primary key is compared as the columns' primary_key
        parsed = INDEX_DEF.match(definition)
        if parsed is None:
            raise ValueError(f"an index this reading does not know: {definition}")
        columns = tuple(part.strip() for part in parsed["columns"].split(","))
        key = f"unique({', '.join(columns)})" if constraint == "u" else name
        indexes[key] = Index(columns, bool(parsed["unique"]), expression(parsed["where"]))
    return indexes


def differences(
    left: Schema, right: Schema, sides: tuple[str, str], same_engine: bool = False
) -> list[str]:
    """What one schema has that the other has not, or has otherwise: one line each, naming
    the table, column or index. Two engines are compared in the common vocabulary alone."""
    found = []
    for table in sorted(left.keys() | right.keys()):
        if table not in left or table not in right:
            side, indexes = (0, left) if table in left else (1, right)
            found.append(f"table {table}: only on {sides[side]}" + _with(indexes[table]))
            continue
        mine, theirs = left[table], right[table]
        if not same_engine:
            mine = mine._replace(columns=_vocabulary(mine.columns))
            theirs = theirs._replace(columns=_vocabulary(theirs.columns))
        found += _compare(f"{table}.", mine.columns, theirs.columns, sides)
        found += _compare(f"index {table}.", mine.indexes, theirs.indexes, sides)
        if mine.columns.keys() == theirs.columns.keys() and list(mine.columns) != list(
            theirs.columns
        ):
            found.append(f"table {table}: columns in another order")
    return found


def _with(table: Table) -> str:
    return f", with indexes {', '.join(sorted(table.indexes))}" if table.indexes else ""


def _vocabulary(columns: dict[str, Column]) -> dict[str, Column]:
    return {name: column._replace(declared="") for name, column in columns.items()}


def _compare(
    prefix: str,
    left: dict[str, Column] | dict[str, Index],
    right: dict[str, Column] | dict[str, Index],
    sides: tuple[str, str],
) -> list[str]:
    found = []
    for key in sorted(left.keys() | right.keys()):
        mine, theirs = left.get(key), right.get(key)
        if mine is None or theirs is None:
            found.append(f"{prefix}{key}: only on {sides[0] if theirs is None else sides[1]}")
        elif mine != theirs:
            changed = [
                f"{field} {a!r} on {sides[0]}, {b!r} on {sides[1]}"
                for field, a, b in zip(mine._fields, mine, theirs, strict=True)
                if a != b
            ]
            found.append(f"{prefix}{key}: " + "; ".join(changed))
    return found
