"""Yandex Metrica's offline-conversion upload on the wire: OAuth, multipart CSV, checked rows.

From the Metrica Management API docs ("Uploading offline conversions", "Passing offline
conversions", "Errors"): POST …/offline_conversions/upload with a CSV in the multipart
field `file`, columns Yclid/ClientId/UserId, Target, DateTime (Unix seconds, in the past),
Price, Currency; the answer is {"uploading": {id, line_quantity, status, …}}; a bad file
is 400 with {"errors": [{error_type, message}]}; a bad token 401 invalid_token; no access
to the counter 403; too many requests 429.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import time
from decimal import Decimal, InvalidOperation

from aiohttp import BodyPartReader, web

from tests.emulators.faults import Emulator, control_routes

ID_COLUMNS = {"Yclid", "ClientId", "UserId"}
REST = ["Target", "DateTime", "Price", "Currency"]


class Metrica(Emulator):
    def __init__(self, token: str, counter_id: int):
        super().__init__()
        self.token = token
        self.counter_id = counter_id
        self.ids = itertools.count(9001)
        self.uploads: list[list[dict[str, str]]] = []  # each upload's rows


def errors(status: int, message: str, error_type: str = "invalid_parameter") -> web.Response:
    body = {
        "errors": [{"error_type": error_type, "message": message}],
        "code": status,
        "message": message,
    }
    return web.json_response(body, status=status)


def check_rows(text: str) -> tuple[list[dict[str, str]], str | None]:
    """The rows of the file, or what Metrica would say is wrong with it."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    ids = header[: len(header) - len(REST)]
    if header[len(ids) :] != REST or not ids or not set(ids) <= ID_COLUMNS:
        return [], f"bad header {','.join(header)}"
    rows = []
    for number, values in enumerate(reader, start=2):
        if len(values) != len(header):
            return [], f"line {number}: {len(values)} columns, expected {len(header)}"
        row = dict(zip(header, values, strict=True))
        if not any(row[i] for i in ids):
            return [], f"line {number}: no visitor identifier"
        if not row["Target"]:
            return [], f"line {number}: empty Target"
        if not row["DateTime"].isdigit() or int(row["DateTime"]) > time.time():
            return [], f"line {number}: DateTime must be Unix seconds in the past"
        try:
            Decimal(row["Price"])
        except InvalidOperation:
            return [], f"line {number}: Price {row['Price']!r} is not a number"
        if not re.fullmatch(r"\d+(\.\d{1,2})?", row["Price"]):
            return [], f"line {number}: Price must use a dot"
        if not re.fullmatch(r"[A-Z]{3}", row["Currency"]):
            return [], f"line {number}: Currency must be an ISO 4217 code"
        rows.append(row)
    return (rows, None) if rows else ([], "the file has no rows")


async def file_field(request: web.Request) -> bytes | None:
    """The multipart part named `file`, read in memory (no temporary file to leak when the
    uploader is killed half-way, as the chaos tests do)."""
    if not request.content_type.startswith("multipart/"):
        return None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "file":
            return await part.read()
    return None


def create_app(metrica: Metrica) -> web.Application:
    async def upload(request: web.Request) -> web.Response:
        refusal = await metrica.gate(
            lambda: errors(429, "Too many requests", "quota_requests_by_uid"),
            lambda: errors(503, "Service temporarily unavailable", "backend_error"),
        )
        if refusal is not None:
            return refusal
        # Metrica API docs, "Errors": 401 invalid_token for a missing, wrong or expired
        # OAuth token; 403 access_denied when the token's user has no access to the counter.
        if request.headers.get("Authorization") != f"OAuth {metrica.token}":
            return errors(401, "Invalid oauth_token", "invalid_token")
        if request.match_info["counter"] != str(metrica.counter_id):
            return errors(403, "No access to counter", "access_denied")
        content = await file_field(request)
        if content is None:
            return errors(400, "multipart field 'file' is required")
        rows, problem = check_rows(content.decode("utf-8"))
        if problem:
            return errors(400, problem)
        metrica.uploads.append(rows)
        metrica.received.extend(rows)
        uploading = {
            "id": next(metrica.ids),
            "source_quantity": len(rows),
            "line_quantity": len(rows),
            "client_id_type": "YCLID" if "Yclid" in rows[0] else "CLIENT_ID",
            "status": "UPLOADED",
            "create_time": time.strftime("%Y-%m-%dT%H:%M:%S+0300"),
        }
        return web.json_response({"uploading": uploading})

    app = web.Application()
    app.add_routes(
        [
            web.post("/management/v1/counter/{counter}/offline_conversions/upload", upload),
            *control_routes(metrica),
        ]
    )
    return app
