"""Schema parity: SQLite and PostgreSQL migrated from the one source hold the same tables,
columns, types, defaults and indexes, after every migration; and the check sees a migration
missing on either side."""

import re
from pathlib import Path

from common.store.migrations import migrations
from common.store.postgres.migrate import migrate as migrate_postgres
from common.store.sqlite.migrate import migrate as migrate_sqlite
from tests import pg
from tests.schema import Schema, describe_postgres, describe_sqlite, differences

ENGINES = ("sqlite", "postgresql")
# Tables one engine has on purpose: 0001's postgresql section (SQLite serves one host, where
# each dispatcher keeps its rate limits in memory); 0015's generated secrets (SQLite keeps
# them in a file beside the database, common/store/secrets.py).
ONLY_ON = {"rate_buckets": "postgresql", "generated_secrets": "postgresql"}
TOUCHED = re.compile(
    r"(?:CREATE TABLE|CREATE INDEX|CREATE UNIQUE INDEX|DROP INDEX)\s+(\w+)"
    r"|ALTER TABLE (\w+) ADD COLUMN (\w+)",
    re.I,
)
# Migrations that change no table, column or index, so the report has nothing to name: 0028
# sets how often PostgreSQL analyses `tasks` (a storage parameter; SQLite has none).
NOT_SCHEMA = {28}
# A table SQLite builds again (it cannot change a CHECK in place: 0026) gets its indexes back
# as they were, so neither engine's report names them.
REBUILT = re.compile(r"ALTER TABLE (\w+) RENAME TO", re.I)
INDEX_ON = re.compile(r"CREATE (?:UNIQUE )?INDEX (\w+) ON (\w+)", re.I)


def shared(schema: Schema, engine: str) -> Schema:
    """The schema without the tables only `engine` has on purpose."""
    return {name: table for name, table in schema.items() if ONLY_ON.get(name) != engine}


def report(sqlite_path: Path, postgres_url: str) -> list[str]:
    """The differences between the two engines' schemas, but for ONLY_ON."""
    return differences(
        shared(describe_sqlite(sqlite_path), "sqlite"),
        shared(describe_postgres(postgres_url), "postgresql"),
        ENGINES,
    )


def touched(number: int) -> list[str]:
    """What migration `number` creates, drops or adds, as the report names it."""
    [sql] = [m.sql for m in migrations("sqlite") if m.number == number]
    rebuilt = set(REBUILT.findall(sql))
    again = {index for index, table in INDEX_ON.findall(sql) if table in rebuilt}
    names = [m[0] or f"{m[1]}.{m[2]}" for m in TOUCHED.findall(sql)]
    return [name for name in names if name not in again]


def test_both_engines_migrated_from_empty_hold_the_same_schema(tmp_path, postgres_server):
    lite, url = tmp_path / "parity.db", pg.fresh_database(postgres_server)
    migrate_sqlite(lite)
    migrate_postgres(url)
    assert report(lite, url) == []
    on_sqlite, on_postgres = describe_sqlite(lite), describe_postgres(url)
    assert len(on_sqlite) >= 10 and "rate_buckets" not in on_sqlite  # the reading really read
    assert set(ONLY_ON) <= on_postgres.keys()
    for schema in (on_sqlite, on_postgres):
        assert schema["tasks"].indexes["tasks_pending"].where == "status = 'pending'"
        assert schema["events"].columns["position"].serial
        assert schema["events"].indexes["unique(stream_id, version)"].unique
        assert schema["leads"].columns["extra"].default == "'{}'"


def test_every_migration_keeps_parity_and_its_absence_is_seen(tmp_path, postgres_server):
    """Each migration goes to one engine first (SQLite and PostgreSQL in turn): the report
    names what it made, until the other engine has it too."""
    lite, url = tmp_path / "steps.db", pg.fresh_database(postgres_server)
    migrate_to = {
        "sqlite": lambda n: migrate_sqlite(lite, upto=n),
        "postgresql": lambda n: migrate_postgres(url, upto=n),
    }
    for number in [m.number for m in migrations("sqlite")]:
        ahead, behind = ENGINES[number % 2], ENGINES[1 - number % 2]
        migrate_to[ahead](number)
        missing = report(lite, url)
        if number in NOT_SCHEMA:
            assert missing == [] and touched(number) == [], (number, missing)
            migrate_to[behind](number)
            continue
        assert missing, f"migration {number} on {ahead} alone went unseen"
        for name in touched(number):
            named = re.compile(rf"\b{re.escape(name)}\b")
            assert any(named.search(line) for line in missing), (number, name, missing)
        migrate_to[behind](number)
        assert report(lite, url) == [], f"after migration {number}"
