"""The JSON API: integrations, Force Sync, the sync log, health."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from psad.queue import QueueClosed
from typing import TYPE_CHECKING
from psad.store import OUTCOMES
from psad.web.errors import ApiError
from psad.web.keys import RUNTIME_KEY

if TYPE_CHECKING:
    from psad.runtime import Runtime

routes = web.RouteTableDef()
MAX_QUERY_VALUE = 200
MAX_ID = 64


def parse_query(request: web.Request, spec: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """Validated query parameters; unknown names and bad values are a 400 that says which."""
    out: dict[str, Any] = {}
    for name in request.query:
        if name not in spec:
            allowed = ", ".join(sorted(spec)) or "none"
            raise ApiError(400, f"unknown query parameter {name!r} (allowed: {allowed})")
        values = request.query.getall(name)
        if len(values) > 1:
            raise ApiError(400, f"query parameter {name!r} given more than once")
        if len(values[0]) > MAX_QUERY_VALUE:
            raise ApiError(400, f"query parameter {name!r} is longer than {MAX_QUERY_VALUE}")
        try:
            out[name] = spec[name](values[0])
        except ValueError as err:
            raise ApiError(400, f"query parameter {name!r}: {err}") from None
    return out


def boolean(value: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def ascii_digits(value: str) -> bool:
    """True for a non-empty run of 0-9 only (``str.isdigit`` also takes "²" and "١")."""
    return value.isascii() and value.isdigit()


def int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not ascii_digits(value):
            raise ValueError(f"expected a whole number, got {value!r}")
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number
    return parse


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value
    return parse


def nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def psa_id_param(name: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if (not value or len(value) > MAX_ID or not value.isascii()
                or not all(c.isalnum() or c in "-_" for c in value)):
            raise ValueError(f"{name} must be a PSA id (letters, digits, '-' or '_')")
        return value
    return parse


def search_text(value: str) -> str | None:
    """Search text with control characters dropped; blank means no text filter."""
    return "".join(c for c in value if ord(c) >= 32 and c != "\x7f").strip() or None


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME_KEY]


def integration_or_404(request: web.Request) -> Any:
    name = request.match_info["name"]
    integration = runtime(request).config.integration(name)
    if integration is None:
        raise ApiError(404, f"no integration named {name!r}")
    return integration


def requester(request: web.Request, default: str) -> str:
    who = request.headers.get("X-Psad-User", "").strip()[:64]
    return f"{default}:{who}" if who else default


@routes.get("/api/integrations")
async def list_integrations(request: web.Request) -> web.Response:
    parse_query(request, {})
    return web.json_response({"integrations": await runtime(request).integration_summaries()})


@routes.get("/api/integrations/{name}")
async def get_integration(request: web.Request) -> web.Response:
    parse_query(request, {})
    integration = integration_or_404(request)
    return web.json_response(await runtime(request).integration_summary(integration))


async def force_sync(request: web.Request, requested_by: str, full: bool) -> tuple[int, int, bool]:
    integration = integration_or_404(request)
    if not integration.enabled:
        raise ApiError(409, f"integration {integration.name!r} is disabled in the config")
    try:
        submission = await runtime(request).queue.submit(integration.name, "force",
                                                         requested_by, full=full)
    except QueueClosed:
        raise ApiError(503, "psad is stopping; try again when it is back") from None
    return submission.run_id, submission.position, submission.deduplicated


@routes.post("/api/integrations/{name}/sync")
async def post_sync(request: web.Request) -> web.Response:
    query = parse_query(request, {"full": boolean})
    run_id, position, deduplicated = await force_sync(
        request, requester(request, "api"), query.get("full", False))
    location = f"/api/runs/{run_id}"
    return web.json_response(
        {"run_id": run_id, "position": position, "deduplicated": deduplicated,
         "status": "queued" if position else "running", "run": location},
        status=202, headers={"Location": location})


@routes.get("/api/runs")
async def list_runs(request: web.Request) -> web.Response:
    query = parse_query(request, {
        "integration": nonempty, "outcome": one_of(OUTCOMES),
        "limit": int_between(1, 500), "before": int_between(1, 2**62)})
    limit = query.get("limit", 50)
    runs = await runtime(request).store.list_runs(
        integration=query.get("integration"), outcome=query.get("outcome"),
        before=query.get("before"), limit=limit)
    body: dict[str, Any] = {"runs": [run.to_json() for run in runs],
                            "next_before": runs[-1].id if len(runs) == limit else None}
    return web.json_response(body)


@routes.get("/api/runs/{run_id}")
async def get_run(request: web.Request) -> web.Response:
    parse_query(request, {})
    raw = request.match_info["run_id"]
    if not ascii_digits(raw) or len(raw) > 18:
        raise ApiError(400, f"run id must be a positive whole number, got {raw[:40]!r}")
    run = await run_details(request, int(raw))
    if run is None:
        raise ApiError(404, f"no run {raw}")
    return web.json_response(run)


async def run_details(request: web.Request, run_id: int) -> dict[str, Any] | None:
    """A run from the sync log plus its live queue state (position, entities in progress,
    and while it runs a ``progress`` object: see :meth:`psad.progress.RunProgress.as_dict`)."""
    rt = runtime(request)
    detail = await rt.store.get_run(run_id)
    if detail is None:
        return None
    run = detail.to_json()
    run["position"] = (await rt.queue.view()).position(run_id)
    notes = {e["entity"]: e["note"] for e in run["entities"] if e["note"]}
    for error in run["errors"]:
        error["kind"] = error_kind(error, notes)
    for entry in rt.queue.running.values():
        if entry.run_id == run_id:
            run["current_entity"] = entry.current_entity
            run["progress"] = entry.progress.as_dict()
    return run


def error_kind(error: dict[str, Any], notes: dict[str, str]) -> str:
    """``record`` (a record rejected), ``note`` (an entity's note) or ``fetch`` (a fetch failed)."""
    message = error["message"]
    if error["psa_id"] or message.startswith("rejected:") or \
            message.endswith("more errors not listed"):
        return "record"
    return "note" if notes.get(error["entity"]) == message else "fetch"


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    db_ok = await runtime(request).health.check()
    return web.json_response({"status": "ok" if db_ok else "degraded", "database": db_ok},
                             status=200 if db_ok else 503)


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready once started, and only while the database answers: a load balancer then sends
    nothing to an instance cut off from the database its work and pages need."""
    rt = runtime(request)
    ready = rt.ready and await rt.health.check()
    return web.json_response({"ready": ready}, status=200 if ready else 503)
