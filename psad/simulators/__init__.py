"""PSA simulators: one shared dataset, per-vendor wire formats, fault injection.

This module holds what every simulator app shares: the typed app keys, the
request log and the ``/_sim/`` control endpoints that tests use when the
simulator runs in another process.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Middleware

from psad.simulators.dataset import DELETE, ENTITIES, Dataset, to_json
from psad.simulators.faults import CONTROL_PREFIX, ErrorBody, Faults, default_error_body

__all__ = [
    "DATASET_KEY",
    "FAULTS_KEY",
    "REQUEST_LOG_KEY",
    "Dataset",
    "Faults",
    "LoggedRequest",
    "RequestLog",
    "add_control_routes",
    "apply_overrides",
    "name_ids",
    "stable_id",
    "request_log_middleware",
    "simulator_app",
]


Wire = dict[str, Any]


class LoggedRequest(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str | None = None


class RequestLog:
    """Every PSA request a simulator served (control-plane calls excluded)."""

    def __init__(self) -> None:
        self.entries: list[LoggedRequest] = []

    def append(self, entry: LoggedRequest) -> None:
        self.entries.append(entry)

    def clear(self) -> None:
        self.entries.clear()

    def per_path(self) -> Counter[str]:
        return Counter(entry.path for entry in self.entries)

    def count(self, path: str | None = None, *, prefix: str | None = None) -> int:
        """Requests for exactly ``path``, or under ``prefix``, or all."""
        if path is not None:
            return sum(1 for e in self.entries if e.path == path)
        if prefix is not None:
            return sum(1 for e in self.entries if e.path.startswith(prefix))
        return len(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Any:
        return iter(self.entries)


DATASET_KEY = web.AppKey("psad.simulators.dataset", Dataset)
FAULTS_KEY = web.AppKey("psad.simulators.faults", Faults)
REQUEST_LOG_KEY = web.AppKey("psad.simulators.request_log", RequestLog)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def logged_body(request: web.Request) -> str | None:
    """The request body as the log keeps it. A ``multipart/form-data`` body is parsed here (the
    stream can be read once; aiohttp keeps the parsed form for the handler's ``post()``) and
    logged as its fields, form-urlencoded; any other body is kept as text."""
    if not request.can_read_body:
        return None
    if request.content_type == "multipart/form-data":
        form = await request.post()
        return urlencode([(k, v) for k, v in form.items() if isinstance(v, str)])
    return await request.text()


def request_log_middleware(log: RequestLog) -> Middleware:
    @web.middleware
    async def log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(CONTROL_PREFIX):
            log.append(LoggedRequest(
                request.method, request.path, dict(request.query), dict(request.headers),
                await logged_body(request)
            ))
        return await handler(request)

    return log_requests


def simulator_app(dataset: Dataset, faults: Faults | None, error_body: ErrorBody,
                  vendor: Middleware, *, vendor_before_faults: bool = False) -> web.Application:
    """The app every simulator starts from: the request log, the faults (answering in
    the vendor's error shape unless a test chose one), the vendor's own middleware,
    and the shared app keys. ``vendor_before_faults`` for a vendor whose gate
    (sign-in, thread limit) answers before anything else can."""
    if faults is None:
        faults = Faults(error_body=error_body)
    elif faults.error_body is default_error_body:
        faults.error_body = error_body
    log = RequestLog()
    inner = [vendor, faults.middleware] if vendor_before_faults else [faults.middleware, vendor]
    app = web.Application(middlewares=[request_log_middleware(log), *inner])
    app[DATASET_KEY] = dataset
    app[FAULTS_KEY] = faults
    app[REQUEST_LOG_KEY] = log
    return app


def stable_id(name: str) -> int:
    """A wire id for a value the dataset keeps only by name (types, regions, makers)."""
    return 1000 + zlib.crc32(name.encode()) % 90000


def name_ids(names: Iterable[str]) -> dict[str, int]:
    """Small ids 1, 2, … for a fixed list of names, in order of first appearance."""
    ids: dict[str, int] = {}
    for name in names:
        ids.setdefault(name, len(ids) + 1)
    return ids


def apply_overrides(wire: Wire, overrides: Mapping[str, object] | None) -> Wire:
    """Set or drop wire keys for a test's corrupted record (``dataset.corrupt``);
    ``a/b`` reaches into a nested object, which is copied first (refs are shared)."""
    if not overrides:
        return wire
    for path, value in overrides.items():
        *parents, key = path.split("/")
        node: Any = wire
        for part in parents:
            if not isinstance(node, dict):
                break
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, dict) else {}
            node = node[part]
        if not isinstance(node, dict):
            continue
        if value is DELETE:
            node.pop(key, None)
        else:
            node[key] = value
    return wire


# --- /_sim/ control endpoints ---------------------------------------------------------


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _entity(request: web.Request) -> str:
    entity = request.match_info["entity"]
    if entity not in ENTITIES:
        raise web.HTTPNotFound(
            text=f'{{"error": "unknown entity {entity}"}}', content_type="application/json"
        )
    return entity


def _record_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "id must be an integer"}', content_type="application/json"
        ) from None


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "body must be JSON"}', content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error": "body must be a JSON object"}', content_type="application/json"
        )
    return body


async def _add(request: web.Request) -> web.Response:
    entity = _entity(request)
    fields = await _json_object(request)
    try:
        record = request.app[DATASET_KEY].add(entity, **Dataset.coerce(fields))
    except (TypeError, ValueError) as err:
        return _problem(400, str(err))
    return web.json_response(to_json(record), status=201)


async def _update(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    changes = await _json_object(request)
    try:
        record = request.app[DATASET_KEY].update(entity, record_id, **Dataset.coerce(changes))
    except KeyError as err:
        return _problem(404, str(err))
    except (TypeError, ValueError) as err:
        return _problem(400, str(err))
    return web.json_response(to_json(record))


async def _delete(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    try:
        request.app[DATASET_KEY].delete(entity, record_id)
    except KeyError as err:
        return _problem(404, str(err))
    return web.Response(status=204)


async def _corrupt(request: web.Request) -> web.Response:
    """Body ``{"entity", "id", "field", "value"}`` or ``"delete": true`` to drop the key."""
    body = await _json_object(request)
    try:
        value = DELETE if body.get("delete") else body.get("value")
        request.app[DATASET_KEY].corrupt(str(body["entity"]), int(body["id"]), str(body["field"]), value)
    except (KeyError, TypeError, ValueError) as err:
        return _problem(400, f"bad corruption: {err}")
    return web.Response(status=204)


async def _clear_corruption(request: web.Request) -> web.Response:
    request.app[DATASET_KEY].clear_corruption()
    return web.Response(status=204)


async def _touch(request: web.Request) -> web.Response:
    """Body ``{"share": 0.01, "seed": 1, "entities": [...]}``; answers the touched ids."""
    body = await _json_object(request)
    kwargs: dict[str, Any] = {}
    if "entities" in body:
        kwargs["entities"] = list(body["entities"])
    try:
        touched = request.app[DATASET_KEY].touch_random(
            float(body.get("share", 0.01)), random.Random(body.get("seed", 0)), **kwargs
        )
    except (KeyError, TypeError, ValueError) as err:
        return _problem(400, str(err))
    return web.json_response(touched)


async def _arm_fault(request: web.Request) -> web.Response:
    body = await _json_object(request)
    try:
        request.app[FAULTS_KEY].apply(body)
    except (KeyError, TypeError, ValueError) as err:
        return _problem(400, f"bad fault: {err}")
    return web.Response(status=204)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS_KEY].clear()
    return web.Response(status=204)


async def _requests(request: web.Request) -> web.Response:
    return web.json_response([entry._asdict() for entry in request.app[REQUEST_LOG_KEY]])


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[REQUEST_LOG_KEY].clear()
    return web.Response(status=204)


def add_control_routes(app: web.Application) -> None:
    """Mount ``/_sim/``; the app must hold DATASET_KEY, FAULTS_KEY and REQUEST_LOG_KEY."""
    app.router.add_post("/_sim/faults", _arm_fault)
    app.router.add_delete("/_sim/faults", _clear_faults)
    app.router.add_get("/_sim/requests", _requests)
    app.router.add_delete("/_sim/requests", _clear_requests)
    app.router.add_post("/_sim/corrupt", _corrupt)
    app.router.add_delete("/_sim/corrupt", _clear_corruption)
    app.router.add_post("/_sim/touch", _touch)
    app.router.add_post("/_sim/{entity}", _add)
    app.router.add_patch("/_sim/{entity}/{id}", _update)
    app.router.add_delete("/_sim/{entity}/{id}", _delete)
