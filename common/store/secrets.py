"""Secrets leadrelay makes for itself and keeps beside the database, the same for every
process that uses it (the dashboard's session key when none is configured).

SQLite keeps each in a file next to the database file, readable by its owner alone;
PostgreSQL in the `generated_secrets` table, which every host reads (migration 0015)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from common.files import fsync_path
from common.store.sql import Sql


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class GeneratedSecrets:
    """PostgreSQL's rows: the first process to keep a name wins, the others read its value."""

    def __init__(self, sql: Sql):
        self.sql = sql

    def keep(self, name: str, value: str) -> str:
        """`value` stored under `name` unless one is there already; the value kept."""
        self.sql.run(
            "INSERT INTO generated_secrets (name, value, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO NOTHING",
            (name, value, self.sql.now()),
        )
        return str(self.sql.value("SELECT value FROM generated_secrets WHERE name = ?", (name,)))


def kept_in_file(path: Path) -> str:
    """The secret in `path`, made first if there is none: written whole to a file of its own
    (mode 0600), then linked into place, so processes starting together agree on one and
    none reads a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, f"{new_secret()}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(draft, path)  # fails if another process linked its own first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        fsync_path(path.parent)  # the new name, durable as the database's files are
    return path.read_text().strip()
