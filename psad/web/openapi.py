"""The OpenAPI 3.1 description of psad's JSON API, served at ``/api/openapi.json``.

Parameter bounds here mirror the validation in :mod:`psad.web.api` and
:mod:`psad.web.tickets`; the schemathesis test runs this document against a
live daemon, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from datetime import date
from typing import Any

from aiohttp import web

from psad.model import Address, Entity
from psad.store import OUTCOMES
from psad.web.data import CURSOR_PATTERN, MAX_LIMIT, slug

routes = web.RouteTableDef()

NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": required if required is not None else list(props)}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "invalid input, the message says which", 401: "missing or wrong bearer token",
            404: "no such object", 409: "not possible in this state",
            502: "the PSA failed", 503: "psad is stopping", 504: "the PSA did not answer in time"}
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


NAME = {"name": "name", "in": "path", "required": True, "description": "integration name",
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"}}

RUN = _obj({
    "id": {"type": "integer"}, "integration": {"type": "string"},
    "trigger": {"enum": ["nightly", "force", "startup", "manual"]},
    "requested_by": {"type": "string"}, "full_sync": {"type": "boolean"},
    "queued_at": {"type": "string"}, "started_at": NULLABLE_STR, "finished_at": NULLABLE_STR,
    "outcome": {"enum": list(OUTCOMES)}, "current_entity": NULLABLE_STR, "error": NULLABLE_STR,
    "scheduled_for": NULLABLE_STR})

ENTITY_RESULT = _obj({
    "entity": {"type": "string"}, "mode": {"enum": ["full", "incremental"]},
    "started_at": {"type": "string"}, "finished_at": NULLABLE_STR, "complete": {"type": "boolean"},
    **{k: {"type": "integer", "minimum": 0} for k in (
        "fetched", "created", "updated", "unchanged", "deleted", "rejected", "requests")},
    "note": NULLABLE_STR})

NULLABLE_NUMBER = {"type": ["number", "null"]}
COUNTS = {k: {"type": "integer", "minimum": 0} for k in ("fetched", "written", "rejected")}
ENTITY_PROGRESS = _obj({**COUNTS, "pages": {"type": "integer", "minimum": 0},
                        "total": NULLABLE_INT, "percent": NULLABLE_NUMBER,
                        "seconds_left": NULLABLE_NUMBER, "done": {"type": "boolean"}})
PROGRESS = _obj({**COUNTS, "entities_done": {"type": "integer"},
                 "entities_total": {"type": "integer"}, "percent": {"type": "number"},
                 "entities": {"type": "object", "additionalProperties": ENTITY_PROGRESS}})
"""Live counts of a running run (``progress`` in a run and in an integration's ``running``)."""

RUN_ERROR = _obj({"entity": NULLABLE_STR, "psa_id": NULLABLE_STR, "message": {"type": "string"},
                  "at": {"type": "string"}, "kind": {"enum": ["fetch", "note", "record"]}})

TICKET = _obj({
    "id": {"type": "string"}, "summary": {"type": "string"}, "company_id": NULLABLE_STR,
    "company_name": NULLABLE_STR, "board": NULLABLE_STR, "status": NULLABLE_STR,
    "priority": NULLABLE_STR, "contact": NULLABLE_STR, "created_at": NULLABLE_STR,
    "updated_at": NULLABLE_STR, "closed": {"type": "boolean"}, "url": NULLABLE_STR})

INTEGRATION = _obj({
    "name": {"type": "string"}, "kind": {"type": "string"}, "enabled": {"type": "boolean"},
    "schedule": {"type": "string"}, "timezone": {"type": "string"}, "next_run": NULLABLE_STR,
    "state": {"enum": ["idle", "queued", "running"]},
    "queued": {"type": ["object", "null"]}, "running": {"type": ["object", "null"]},
    "last_run": {"type": ["object", "null"]}, "last_success": {"type": ["object", "null"]},
    "entities": {"type": "object"}, "records": {"type": "object"}})


def _field_schema(hint: Any) -> dict[str, Any]:
    """The JSON schema of one stored record field, from its type in psad.model."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        schema = _field_schema(inner)
        return {**schema, "type": [schema["type"], "null"]}
    if hint is Address:
        return _obj({f: NULLABLE_STR for f in typing.get_type_hints(Address)})
    if typing.get_origin(hint) is tuple:
        return {"type": "array", "items": {"type": "string"}}
    if typing.get_origin(hint) is Mapping or hint is Mapping:
        return {"type": "object", "description": "the custom fields selected in the config"}
    names = {str: "string", bool: "boolean", int: "integer", float: "number", date: "string"}
    return {"type": names[hint]}


def record_schema(entity: Entity) -> dict[str, Any]:
    """One stored row as the entity data API returns it."""
    hints = typing.get_type_hints(entity.record_type)
    return _obj({
        "integration": {"type": "string"}, "psa_id": {"type": "string"},
        "out_of_scope": {"type": "boolean"}, "first_seen": {"type": "string"},
        "last_seen": {"type": "string"}, "updated_at": {"type": "string"},
        "deleted_at": NULLABLE_STR,
        **{name: _field_schema(hints[name]) for name in entity.record_type.value_names()}})


def _entity_path(entity: Entity) -> dict[str, Any]:
    words = entity.value.replace("_", " ")
    params = [
        NAME,
        _query("q", {"type": "string", "maxLength": 200},
               "text search in names (also serial numbers of assets, emails of contacts)"),
        _query("updated_since", {"type": "string", "format": "date-time"},
               "change feed: only rows changed (or deleted) at or after this time"),
        _query("include_deleted", {"enum": ["true", "false"]},
               "include soft-deleted rows (default false)"),
        _query("out_of_scope", {"enum": ["true", "false"]},
               "only rows outside (true) or inside (false) the company filter"),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
               "page size (default 100)"),
        _query("next", {"type": "string", "pattern": CURSOR_PATTERN},
               "the cursor the previous page returned")]
    if entity.is_company_child:
        params.append(_query("company", {"type": "string", "pattern": ID_PATTERN},
                             "only this company's (PSA id)"))
    return {"get": {
        "summary": f"synced {words}, in PSA-id order, keyset-paged", "security": [{"bearer": []}],
        "parameters": params,
        "responses": {"200": _json(_obj({
            "items": {"type": "array", "items": _ref(f"Record_{entity.value}")},
            "next": NULLABLE_STR}), words), **_errors(400, 401, 404)}}}


def build_document() -> dict[str, Any]:
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "psad", "version": "1",
                 "description": "PSA sync daemon: integrations, Force Sync, the sync log, "
                                "the synced data and live tickets."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _obj({"error": {"type": "string"}}),
                "Run": RUN,
                "RunDetail": {"allOf": [RUN, _obj({
                    "entities": {"type": "array", "items": ENTITY_RESULT},
                    "errors": {"type": "array", "items": RUN_ERROR},
                    "position": NULLABLE_INT, "progress": PROGRESS},
                    ["entities", "errors", "position"])]},
                "Integration": INTEGRATION,
                "Ticket": TICKET,
                **{f"Record_{e.value}": record_schema(e) for e in Entity},
            },
        },
        "paths": {
            "/healthz": {"get": {
                "summary": "process up and database reachable", "security": [],
                "responses": {"200": _json(_obj({"status": {"type": "string"},
                                                 "database": {"type": "boolean"}}), "healthy"),
                              "503": _json({"type": "object"}, "database unreachable")}}},
            "/readyz": {"get": {
                "summary": "started, taking work and reaching the database", "security": [],
                "responses": {"200": _json(_obj({"ready": {"type": "boolean"}}), "ready"),
                              "503": _json(_obj({"ready": {"type": "boolean"}}), "not ready")}}},
            "/api/integrations": {"get": {
                "summary": "every integration with its state", "security": bearer,
                "responses": {"200": _json(_obj({"integrations": {
                    "type": "array", "items": _ref("Integration")}}), "integrations"),
                    **_errors(400, 401)}}},
            "/api/integrations/{name}": {"get": {
                "summary": "one integration", "security": bearer, "parameters": [NAME],
                "responses": {"200": _json(_ref("Integration"), "the integration"),
                              **_errors(400, 401, 404)}}},
            "/api/integrations/{name}/sync": {"post": {
                "summary": "Force Sync: queue a sync ahead of nightly work", "security": bearer,
                "parameters": [NAME, _query("full", {"enum": ["true", "false"]},
                                            "fetch everything, not only changes")],
                "responses": {
                    "202": {**_json(_obj({
                        "run_id": {"type": "integer"}, "position": {"type": "integer"},
                        "deduplicated": {"type": "boolean"},
                        "status": {"enum": ["queued", "running"]}, "run": {"type": "string"}}),
                        "queued"), "headers": {"Location": {"schema": {"type": "string"}}}},
                    **_errors(400, 401, 404, 409, 503)}}},
            "/api/runs": {"get": {
                "summary": "the sync log, newest first", "security": bearer,
                "parameters": [
                    _query("integration", {"type": "string", "minLength": 1, "maxLength": 200},
                           "only this integration"),
                    _query("outcome", {"enum": list(OUTCOMES)}, "only this outcome"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500},
                           "page size (default 50)"),
                    _query("before", {"type": "integer", "minimum": 1,
                                      "maximum": 2**62}, "runs older than this id")],
                "responses": {"200": _json(_obj({
                    "runs": {"type": "array", "items": _ref("Run")},
                    "next_before": NULLABLE_INT}), "runs"), **_errors(400, 401)}}},
            "/api/runs/{run_id}": {"get": {
                "summary": "one run with counts, timings and record errors", "security": bearer,
                "parameters": [{"name": "run_id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 0}}],
                "responses": {"200": _json(_ref("RunDetail"), "the run"),
                              **_errors(400, 401, 404)}}},
            **{f"/api/integrations/{{name}}/{slug(e)}": _entity_path(e) for e in Entity},
            "/api/integrations/{name}/tickets": {"get": {
                "summary": "live tickets from the PSA (never stored)", "security": bearer,
                "parameters": [NAME, *(
                    _query(f, {"type": "string", "pattern": ID_PATTERN}, f"{f} PSA id")
                    for f in ("company", "board", "status", "priority")),
                    _query("q", {"type": "string", "maxLength": 200},
                           "text search (control characters are ignored)"),
                    _query("page", {"type": "integer", "minimum": 1, "maximum": 10000}, "page"),
                    _query("page_size", {"type": "integer", "minimum": 1, "maximum": 100},
                           "page size (default 25)")],
                "responses": {"200": _json(_obj({
                    "tickets": {"type": "array", "items": _ref("Ticket")},
                    "page": {"type": "integer"}, "page_size": {"type": "integer"},
                    "has_more": {"type": "boolean"}, "total": NULLABLE_INT,
                    "errors": {"type": "array", "items": _obj({
                        "id": NULLABLE_STR, "message": {"type": "string"}}),
                        "description": "listed tickets the PSA sent malformed, left out"}}),
                    "tickets"),
                    **_errors(400, 401, 404, 502, 504)}}},
            "/api/integrations/{name}/tickets/{ticket_id}": {"get": {
                "summary": "one live ticket", "security": bearer,
                "parameters": [NAME, {"name": "ticket_id", "in": "path", "required": True,
                                      "schema": {"type": "string", "pattern": ID_PATTERN}}],
                "responses": {"200": _json(_ref("Ticket"), "the ticket"),
                              **_errors(400, 401, 404, 502, 504)}}},
        },
    }


DOCUMENT = build_document()


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)
