"""`python -m demo.fresh`: empty the demo's database before `make demo` starts it again.

Only a SQLite file whose name starts with `demo` is removed (with its -wal and -shm files),
so pointing DEMO_CONFIG or LEADRELAY_DATABASE at a real database stops here instead."""

from __future__ import annotations

import sys
from pathlib import Path

from common.config import load_settings


def main() -> int:
    settings = load_settings()
    database = Path(settings.database)
    if settings.on_postgres or not database.name.startswith("demo"):
        print(
            f"make demo empties its database at each start, so it runs only on a SQLite file"
            f" named demo…, not {settings.database if not settings.on_postgres else 'PostgreSQL'}",
            file=sys.stderr,
        )
        return 2
    for path in (database, *(database.with_name(database.name + end) for end in ("-wal", "-shm"))):
        path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
