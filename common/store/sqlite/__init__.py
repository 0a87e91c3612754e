"""The SQLite backend (WAL): one writer thread with group commit, read-only readers."""
