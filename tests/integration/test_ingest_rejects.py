"""Every bad input gets a JSON 4xx naming the problem, and the database does not change."""

import json

import pytest

from tests.helpers import snapshot, write_lock_held

OK = {"phone": "+79161234567"}
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def case(
    name,
    status,
    code,
    *,
    field=None,
    json_body=None,
    data=None,
    headers=None,
    method="POST",
    path="/api/v1/leads",
):
    kwargs = {"headers": headers or {}}
    if json_body is not None:
        kwargs["data"] = json.dumps(json_body)
        kwargs["headers"] = JSON | kwargs["headers"]
    elif data is not None:
        kwargs["data"] = data
    return pytest.param(method, path, kwargs, status, code, field, id=name)


CASES = [
    case("json-syntax", 400, "malformed", data=b"{", headers=JSON),
    case("json-array", 400, "malformed", json_body=[OK]),
    case("json-string", 400, "malformed", json_body="phone"),
    case("json-null", 400, "malformed", data=b"null", headers=JSON),
    case("json-empty", 400, "malformed", data=b"", headers=JSON),
    case("json-bad-utf8", 400, "malformed", data=b'{"phone": "\xff\xfe"}', headers=JSON),
    case("json-header-form-body", 400, "malformed", data=b"phone=1", headers=JSON),
    case(
        "text-plain",
        415,
        "unsupported_media_type",
        data=b"phone=+79161234567",
        headers={"Content-Type": "text/plain"},
    ),
    case(
        "xml",
        415,
        "unsupported_media_type",
        data=b"<lead/>",
        headers={"Content-Type": "application/xml"},
    ),
    case(
        "octet-stream",
        415,
        "unsupported_media_type",
        data=b"\x00\x01",
        headers={"Content-Type": "application/octet-stream"},
    ),
    case("no-contact", 422, "invalid_field", field="phone", json_body={"name": "Ivan"}),
    case("blank-contact", 422, "invalid_field", field="phone", json_body={"phone": "   "}),
    case("phone-short", 422, "invalid_field", field="phone", json_body={"phone": "12"}),
    case("phone-words", 422, "invalid_field", field="phone", json_body={"phone": "call me"}),
    case("phone-number-type", 422, "invalid_field", field="phone", json_body={"phone": 12345}),
    case("phone-object", 422, "invalid_field", field="phone", json_body={"phone": {"n": 1}}),
    case("phone-list", 422, "invalid_field", field="phone", json_body={"phone": ["+7916"]}),
    case("phone-too-long", 422, "invalid_field", field="phone", json_body={"phone": "9" * 51}),
    case("email-bad", 422, "invalid_field", field="email", json_body={"email": "not-an-email"}),
    case("email-no-domain", 422, "invalid_field", field="email", json_body={"email": "a@"}),
    case("email-space", 422, "invalid_field", field="email", json_body={"email": "a b@c.ru"}),
    case("form-phone-bad", 422, "invalid_field", field="phone", data={"Phone": "000"}),
    case("form-email-bad", 422, "invalid_field", field="email", data={"Email": "x@y"}),
    case(
        "both-contacts-bad",
        422,
        "invalid_field",
        field="email",
        json_body={"phone": "12", "email": "a@"},
    ),
    case(
        "phone-object-no-email",
        422,
        "invalid_field",
        field="phone",
        json_body={"phone": {"n": 1}, "name": "x"},
    ),
    case(
        "json-deep",
        400,
        "malformed",
        data=b'{"phone": "+79161234567", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        headers=JSON,
    ),
    case("json-deep-alone", 400, "malformed", data=b"[" * 100_00 + b"]" * 100_00, headers=JSON),
    case("json-too-large", 413, "too_large", json_body=OK | {"comment": "x" * 70_000}),
    case("form-too-large", 413, "too_large", data={"phone": "+79161234567", "c": "x" * 70_000}),
    case(
        "multipart-no-boundary",
        400,
        "malformed",
        data=b"--x\r\n",
        headers={"Content-Type": "multipart/form-data"},
    ),
    case(
        "idempotency-key-too-long",
        400,
        "malformed",
        json_body=OK,
        headers={"Idempotency-Key": "k" * 201},
    ),
    case("wrong-method", 405, "method_not_allowed", method="GET"),
    case("wrong-path", 404, "not_found", path="/api/v1/lead", json_body=OK),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code", "field"), CASES)
async def test_bad_input(ingest, db_path, method, path, kwargs, status, code, field):
    await ingest.get("/healthz")
    before = snapshot(db_path)
    resp = await ingest.request(method, path, **kwargs)
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["error"] == code
    assert body["message"]
    if field:
        assert field in [item["field"] for item in body["detail"]], body
    assert snapshot(db_path) == before


def test_there_are_at_least_twenty_five_bad_inputs():
    assert len(CASES) >= 25


async def test_busy_database_answers_503_and_writes_nothing(ingest, db_path):
    await ingest.get("/healthz")
    before = snapshot(db_path)
    with write_lock_held(db_path):
        resp = await ingest.post("/api/v1/leads", json=OK)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert (await resp.json())["error"] == "database_busy"
    assert snapshot(db_path) == before
    assert (await ingest.post("/api/v1/leads", json=OK)).status == 200
