"""The aiohttp application and the lifecycle of the daemon's parts.

Start-up runs as cleanup contexts in order (store and session, then the
queue, workers and scheduler); teardown runs in reverse, so a stop finishes
running syncs before the store closes. The daemon starts the work itself
once its port is bound (``start_work=False``), so a start that cannot listen
touches no run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from psad.runtime import Runtime
from psad.web import api, dashboard, data, openapi, tickets
from psad.web.auth import auth_middleware
from psad.web.errors import Handler, error_middleware
from psad.web.keys import RUNTIME_KEY
from psad.web.session import SESSIONS_KEY, Sessions, load_revoked

MAX_BODY = 64 * 1024
STOP_TIMEOUT = 30.0


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse oversized bodies up front, even on routes that never read one."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY,
                                            actual_size=request.content_length)
    return await handler(request)


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    "Cache-Control": "no-store",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On every answer, raised ones (redirects, errors) included."""
    try:
        response = await handler(request)
    except web.HTTPException as err:
        for key, value in SECURITY_HEADERS.items():
            err.headers.setdefault(key, value)
        raise
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


async def _open_runtime(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME_KEY]
    await runtime.open()
    yield
    await runtime.close()


async def _run_work(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME_KEY]
    await runtime.start()
    yield
    await runtime.stop(timeout=STOP_TIMEOUT)


def create_app(runtime: Runtime, *, start_work: bool = True) -> web.Application:
    app = web.Application(
        middlewares=[security_headers, error_middleware, body_limit, auth_middleware],
        client_max_size=MAX_BODY)
    app[RUNTIME_KEY] = runtime
    app[SESSIONS_KEY] = Sessions()
    app.cleanup_ctx.extend([_open_runtime, load_revoked])
    if start_work:
        app.cleanup_ctx.append(_run_work)
    app.add_routes(api.routes)
    app.add_routes(tickets.routes)
    app.add_routes(data.routes)
    app.add_routes(openapi.routes)
    app.add_routes(dashboard.routes)
    dashboard.setup_templates(app)
    app.router.add_get("/metrics", make_aiohttp_handler(runtime.metrics.registry))
    return app
