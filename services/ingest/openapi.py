"""OpenAPI 3.1 description of the ingest API, generated from its pydantic models."""

from __future__ import annotations

from functools import cache

from services.ingest.schemas import MAX_KEY_LENGTH, ErrorBody, LeadAccepted, LeadIn

REF = "#/components/schemas/{model}"


def _error(description: str) -> dict[str, object]:
    schema = {"$ref": REF.format(model="ErrorBody")}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _plain(description: str, media: str = "application/json") -> dict[str, object]:
    return {"200": {"description": description, "content": {media: {"schema": {}}}}}


@cache
def document() -> dict[str, object]:
    lead = {"$ref": REF.format(model="LeadIn")}
    body = {media: {"schema": lead} for media in ("application/json",)}
    body |= {
        media: {"schema": lead}
        for media in ("application/x-www-form-urlencoded", "multipart/form-data")
    }
    create = {
        "summary": "Accept a lead from a landing page",
        "operationId": "createLead",
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
                "description": "Else Tilda's formid + tranid; a retry with it replays the answer",
            },
            {"name": "X-Request-ID", "in": "header", "schema": {"type": "string"}},
        ],
        "requestBody": {"required": True, "content": body},
        "responses": {
            "200": {
                "description": "Stored; delivery to the CRM is queued",
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model="LeadAccepted")}}
                },
            },
            "400": _error("Malformed body"),
            "409": _error("Idempotency-Key reused with another body"),
            "413": _error("Body over 64 KiB"),
            "415": _error("Unsupported content type"),
            "422": _error("A field is invalid; detail names it"),
            "429": _error("Too many requests from this address; see Retry-After"),
            "503": _error(
                "Database busy or unable to write (disk full), or too many connections"
                " (in all or from this address); see Retry-After"
            ),
        },
    }
    schemas = {
        model.__name__: model.model_json_schema(ref_template=REF)
        for model in (LeadIn, LeadAccepted, ErrorBody)
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "leadrelay ingest", "version": "1"},
        "paths": {
            "/api/v1/leads": {"post": create},
            "/api/v1/openapi.json": {"get": {"responses": _plain("This document")}},
            "/healthz": {
                "get": {
                    "responses": _plain("The process can do its work")
                    | {"503": _error("It cannot; `problems` says why")}
                }
            },
            "/metrics": {"get": {"responses": _plain("Prometheus metrics", "text/plain")}},
        },
        "components": {"schemas": schemas},
    }
