"""WAL checkpoints off the writer's commits.

SQLite copies the WAL back into the database (a checkpoint) from inside the COMMIT that
crosses `wal_autocheckpoint` pages: that batch, and every caller waiting on it, waits for
a thousand pages to be copied and both files fsync'd (measured: ingest's p99 at 1,000
leads/s 27-30 ms with it, 18-20 ms without). So the writer's own threshold is raised to a
backstop, and this thread checkpoints PASSIVE on a connection of its own a few times a
second while writes come: it copies what no reader still needs without taking the write
lock, so the writer goes on meanwhile. A checkpoint it could not finish (the writer added
frames meanwhile) leaves little for the writer's backstop checkpoint, which also lets the
WAL start again from its beginning, so the file stays bounded.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

# The writer checkpoints itself only past this many WAL pages (SQLite's default is 1,000).
BACKSTOP_PAGES = 10_000
INTERVAL = 0.25  # seconds between checkpoints while there are new commits


class Checkpointer:
    def __init__(self, connect: Callable[[], sqlite3.Connection], interval: float = INTERVAL):
        self._connect = connect
        self._interval = interval
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadrelay-ckpt")
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._running = False
        self._last = 0.0
        self.done = 0  # checkpoints run (for tests and benchmarks)

    def nudge(self) -> None:
        """After a commit (from any thread): checkpoint soon, unless one runs or ran lately."""
        with self._lock:
            if self._running or time.monotonic() - self._last < self._interval:
                return
            self._running = True
        self._thread.submit(self._checkpoint)

    def truncate(self) -> bool:
        """Checkpoint everything and truncate the WAL, on this thread (so never beside one
        of its own checkpoints); True if it could (no reader held old pages)."""
        return self._thread.submit(self._truncate).result()

    def _truncate(self) -> bool:
        if self._conn is None:
            self._conn = self._connect()
        busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def _checkpoint(self) -> None:
        try:
            if self._conn is None:
                self._conn = self._connect()
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.done += 1
        except sqlite3.Error:
            pass  # the writer's backstop checkpoint still bounds the WAL
        finally:
            with self._lock:
                self._running, self._last = False, time.monotonic()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
