"""CSRF from a real browser: a page on another loopback port (same site, so SameSite=Strict
does not help) tries to start a sync with the signed-in user's session cookie."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from psad.simulators.serve import serve_app
from test_browser import NAME, Served, page, served, sign_in  # noqa: F401  (fixtures)


def attacker_app(target: str) -> web.Application:
    """What a hostile page on the same host would serve: a text/plain form and a fetch."""
    html = f"""<!doctype html><title>free prizes</title>
<form id="f" method="post" enctype="text/plain" action="{target}">
  <input name="x" value="y"></form>"""

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    return app


async def run_count(served: Served) -> int:
    return len(await served.runtime.store.list_runs(limit=500))


async def test_another_origin_cannot_start_a_sync_with_the_session_cookie(
        served: Served, page: Any) -> None:
    target = f"{served.url}/api/integrations/{NAME}/sync"
    runner, evil = await serve_app(attacker_app(target))
    try:
        await sign_in(page, served.url)
        await served.idle()
        before = await run_count(served)

        await page.goto(evil + "/")
        await page.evaluate("""target => fetch(target, {method: "POST", mode: "no-cors",
            credentials: "include", body: "x"})""", target)
        async with page.expect_navigation() as navigation:
            await page.evaluate("document.getElementById('f').submit()")
        answer = await navigation.value
        # 403, not 401: the cookie went along and psad refused the request anyway
        assert answer is not None and answer.status == 403
        assert "another site" in await page.content()
        assert await run_count(served) == before

        # psad's own page, sending the session's CSRF token in the header, may
        await page.goto(served.url + "/")
        status = await page.evaluate("""async target => {
            const token = document.querySelector('input[name="csrf_token"]').value;
            const response = await fetch(target, {method: "POST", credentials: "same-origin",
                headers: {"X-CSRF-Token": token}});
            return response.status;
        }""", target)
        assert status == 202
        assert await run_count(served) == before + 1
    finally:
        await runner.cleanup()
