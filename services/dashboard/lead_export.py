"""The filtered leads as a download, in the reader's words and zone (services.dashboard.
lead_table): CSV streamed as it is read, XLSX with typed cells made in a temporary file and
streamed once whole. Both are unmasked: they are for the people who call these clients."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

from aiohttp import web

from common import appkeys
from common.model import Lead
from common.store import LeadFilter
from services.dashboard import audit
from services.dashboard.export import CsvRows
from services.dashboard.keys import QUERIES
from services.dashboard.lead_list import read_filter
from services.dashboard.lead_table import LeadTable
from services.dashboard.pages import words
from services.dashboard.xlsx import LeadSheet

log = logging.getLogger(__name__)

CSV_BATCH = 500  # rows a write to the client carries
XLSX_BATCH = 1000  # rows handed to the writing thread at once
CHUNK = 1 << 16  # bytes of the finished file sent at a time


async def columns(request: web.Request, where: LeadFilter) -> LeadTable:
    """The export's columns: the fields, and the answers the filtered leads have."""
    keys = await request.app[appkeys.STORE].read(lambda tx: tx.leads.extra_keys(where))
    return LeadTable(words(request), [key for key, _ in keys])


def download(name: str, content_type: str) -> web.StreamResponse:
    return web.StreamResponse(
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{name}"',
        }
    )


async def csv_file(request: web.Request) -> web.StreamResponse:
    """The filtered leads as CSV (services.dashboard.export says how Excel reads it), streamed
    in batches."""
    where = read_filter(request)
    table = await columns(request, where)
    await audit.exported(request, "leads.csv")
    response = download("leads.csv", "text/csv; charset=utf-8")
    await response.prepare(request)
    rows = CsvRows()
    rows.add(table.headers())
    count = 0
    try:
        async for lead in request.app[QUERIES].export(where):
            rows.add(table.text(cell) for cell in table.cells(lead))
            count += 1
            if count % CSV_BATCH == 0:
                await response.write(rows.take())
        await response.write(rows.take())
    except (ConnectionError, asyncio.CancelledError):
        raise  # the browser went away
    except Exception:
        # The headers (200) are sent: an error answer now would be a second response
        # inside the body. Cut the connection instead, so the browser sees the download
        # fail rather than a short file that looks complete.
        log.exception("leads export failed after %d rows", count)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


async def xlsx_file(request: web.Request) -> web.StreamResponse:
    """The filtered leads as an XLSX workbook. It is written (off the event loop, a batch at
    a time) into a temporary file, then streamed with its length; the folder is removed
    however the request ends. Until the file is whole nothing is sent, so a failure is an
    ordinary error answer. Past Excel's last row the sheet ends with a note saying so."""
    where = read_filter(request)
    table = await columns(request, where)
    await audit.exported(request, "leads.xlsx")
    with tempfile.TemporaryDirectory(prefix="leadrelay-xlsx-") as folder:
        path = Path(folder) / "leads.xlsx"
        sheet = await asyncio.to_thread(LeadSheet, path, table)
        batch: list[Lead] = []
        cut = False
        async for lead in request.app[QUERIES].export(where):
            if len(batch) >= sheet.room:
                cut = True
                break
            batch.append(lead)
            if len(batch) == XLSX_BATCH:
                await asyncio.to_thread(sheet.add, batch)
                batch = []
        await asyncio.to_thread(sheet.add, batch)
        note = None
        if cut:
            total = await request.app[appkeys.STORE].read(lambda tx: tx.leads.count(where))
            note = table.t("export_cut", count=total, shown=table.t.number(sheet.rows - 1))
        await asyncio.to_thread(sheet.close, note)
        return await send_file(request, path, "leads.xlsx")


async def send_file(request: web.Request, path: Path, name: str) -> web.StreamResponse:
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = download(name, kind)
    response.content_length = (await asyncio.to_thread(path.stat)).st_size
    await response.prepare(request)
    file = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            await response.write(chunk)
    finally:
        file.close()
    await response.write_eof()
    return response
