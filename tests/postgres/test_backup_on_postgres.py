"""`leadrelay backup` and `restore` copy SQLite files; on PostgreSQL they refuse and name
the server's own tools."""

from __future__ import annotations

import pytest

from common.cli import main


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_on_postgresql_name_its_own_tools(
    postgres_database, monkeypatch, capsys, tmp_path, command
):
    monkeypatch.setenv("LEADRELAY_DATABASE", postgres_database)
    file = tmp_path / "copy.db"
    assert main([command, str(file)]) == 2
    assert list(tmp_path.iterdir()) == [tmp_path / "empty.toml"]  # nothing written
    err = capsys.readouterr().err
    assert f"leadrelay {command} is for a SQLite database; this one is PostgreSQL" in err
    assert "pg_dump -Fc" in err and "pg_basebackup" in err
