"""The storage package alone holds SQL; the Lead's fields are written out once."""

import re
from pathlib import Path

from common.model import LEAD_COLUMNS, LEAD_FIELDS
from common.store.sqlite.migrate import migrations
from services.ingest.schemas import LeadIn

ROOT = Path(__file__).resolve().parents[2]
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b"
)


def python_files_outside_the_store() -> list[Path]:
    found = []
    for package in ("common", "services"):
        for path in (ROOT / package).rglob("*.py"):
            if "store" not in path.relative_to(ROOT).parts:
                found.append(path)
    return found


def test_sql_lives_only_in_the_storage_package():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in python_files_outside_the_store()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SQL.search(line)
    ]
    assert len(python_files_outside_the_store()) > 30  # the scan really looked
    assert offenders == []


def test_the_leads_table_has_exactly_the_models_columns(tmp_path):
    import sqlite3

    from common.store.leads import KEY_COLUMNS
    from common.store.sqlite.migrate import migrate

    migrate(tmp_path / "x.db")
    conn = sqlite3.connect(tmp_path / "x.db")
    columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(leads)"))
    conn.close()
    # and the contacts folded for comparing, and when the person was erased (migration 0023)
    assert columns == (*LEAD_COLUMNS, *KEY_COLUMNS, "erased_at")
    assert migrations()[-1][0] >= 5


def test_the_ingest_schema_takes_the_fields_a_lead_holds():
    assert set(LeadIn.model_fields) == {*LEAD_FIELDS, "campaign_id"}
    assert {"phone", "email", "yclid", "ym_client_id", "utm_source"} <= set(LEAD_FIELDS)


def test_every_procfile_line_execs_its_process():
    """honcho runs each line through /bin/sh, which (dash) does not exec a lone command:
    without `exec` the shell takes honcho's SIGTERM, reports rc=-15, and the service's own
    clean stop is not what honcho sees."""
    root = Path(__file__).resolve().parents[2]
    for name in ("Procfile", "Procfile.demo"):
        for line in (root / name).read_text().splitlines():
            if line.strip():
                assert line.split(":", 1)[1].strip().startswith("exec "), (name, line)
