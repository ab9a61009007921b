"""The one HTTP client every connector uses.

It owns what every PSA call needs and no connector should write twice:
timeouts, bounded retries with exponential back-off and full jitter,
``Retry-After``, a per-integration concurrency cap and request rate, a
circuit that stops hammering a dead PSA, token refresh on 401, metrics, and
the translation of HTTP failures into :mod:`psad.errors`. What a vendor adds
(a request budget, per-endpoint concurrency, a discovered base URL) comes as
a :class:`psad.transport.TransportPolicy`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import msgspec

from psad.errors import (
    PsaAuthError,
    PsaBadResponse,
    PsaCircuitOpen,
    PsaError,
    PsaNotFound,
    PsaRateLimited,
    PsaTimeout,
    PsaUnavailable,
)
from psad.priority_slots import PrioritySlots
from psad.transport import TransportPolicy

if TYPE_CHECKING:
    from psad.metrics import Metrics

log = logging.getLogger("psad.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SENSITIVE_PARAMS = frozenset({"api_key", "apikey", "token", "access_token", "secret",
                              "password", "client_secret", "key"})
MAX_RETRY_AFTER = 300.0
USER_AGENT = "psad/0.1"


REQUEST_COUNTER: ContextVar[list[int] | None] = ContextVar("psad_request_counter", default=None)
"""Set by whoever wants to count the requests made in its own task (one entity's fetch)."""

T = TypeVar("T")

UNGOVERNED = TransportPolicy()
"""No vendor policy: what a client applies until its connector gives it one."""


class RequestPriority(IntEnum):
    """Who goes first when every request slot of an integration is taken.

    A person waiting on a live ticket beats the sync; within a sync, the
    requests that something else waits on (the next page of a chain of
    pages) beat fan-out calls, which have plenty of siblings to keep the
    slots busy. Without this a chain of pages queues behind thousands of
    fan-out calls and ends up running alone at the end of the sync.
    """

    LIVE = 0
    SYNC = 1
    FAN_OUT = 2


REQUEST_PRIORITY: ContextVar[RequestPriority] = ContextVar(
    "psad_request_priority", default=RequestPriority.SYNC)


async def with_priority(priority: RequestPriority, call: Awaitable[T]) -> T:
    """Await ``call`` with its requests at ``priority``; run it as its own task
    (``asyncio.gather`` and ``create_task`` do) so the setting stays with it."""
    REQUEST_PRIORITY.set(priority)
    return await call


class Authenticator(Protocol):
    """Adds a PSA's credentials to a request and renews them when refused."""

    async def headers(self) -> Mapping[str, str]: ...

    async def refresh(self) -> bool:
        """Renew credentials after a 401; False when renewing cannot help."""
        ...


class StaticAuth:
    """Credentials sent as the same headers on every request, which renewing cannot
    change (API keys, member keys): a refusal is final."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self) -> Mapping[str, str]:
        return self._headers

    async def refresh(self) -> bool:
        return False


class BearerTokenAuth:
    """A bearer token obtained on demand, renewed before it expires and once per refusal.

    Concurrent requests share one renewal: each task remembers the token it
    sent, so a refusal of a token another task already replaced renews nothing.
    Subclasses fill in :meth:`_obtain` (and :meth:`_renew` when the vendor has
    a cheaper renewal than signing in again); both set ``_token`` and
    ``_renew_at`` (a ``clock()`` reading, or None for no expiry known).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._token: str | None = None
        self._renew_at: float | None = None
        self._lock = asyncio.Lock()
        self._sent: ContextVar[str | None] = ContextVar(f"psad-token-{id(self)}", default=None)

    async def headers(self) -> Mapping[str, str]:
        if self._stale():
            async with self._lock:
                if self._stale():
                    await self._obtain()
        self._sent.set(self._token)
        return {"Authorization": f"Bearer {self._token}"}

    async def refresh(self) -> bool:
        async with self._lock:
            if self._sent.get() == self._token:
                await self._renew()
        return True

    def _stale(self) -> bool:
        return self._token is None or (self._renew_at is not None
                                       and self.clock() >= self._renew_at)

    async def _obtain(self) -> None:
        raise NotImplementedError

    async def _renew(self) -> None:
        await self._obtain()


def redact_url(url: str) -> str:
    """The URL with secret-looking query values replaced, fit for logs and errors."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, "***" if k.lower() in SENSITIVE_PARAMS else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: Any
    url: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    circuit_threshold: int = 5
    circuit_cooldown: float = 60.0

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


OFFLOAD_BYTES = 32 * 1024
"""Bodies larger than this are parsed in a thread so the event loop keeps answering."""


async def parse_json(text: str, decoder: msgspec.json.Decoder[Any] | None = None) -> Any:
    if not text.strip():
        return None
    if len(text) > OFFLOAD_BYTES:
        return await asyncio.to_thread(_decode, text, decoder)
    return _decode(text, decoder)


def _decode(text: str, decoder: msgspec.json.Decoder[Any] | None) -> Any:
    """``text`` decoded by ``decoder`` (typed structs, for a connector's hot pages), or
    as plain JSON when it does not fit the decoder's types: the connector then reads it
    with its dict readers, which name each bad record's fault."""
    if decoder is not None:
        try:
            return decoder.decode(text)
        except msgspec.DecodeError:
            pass
    return msgspec.json.decode(text)


class _RateLimiter:
    """Spaces request starts at most ``rate`` per second."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


class _Circuit:
    def __init__(self, name: str, threshold: int, cooldown: float) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.open_until = 0.0
        self.last_error = ""

    def check(self) -> None:
        if self.open_until and time.monotonic() < self.open_until:
            wait = self.open_until - time.monotonic()
            raise PsaCircuitOpen(
                f"calls to this PSA are paused for {wait:.0f}s after {self.failures} "
                f"consecutive failures; the last was {self.last_error}", integration=self.name)

    def success(self) -> None:
        if self.failures >= self.threshold:
            log.info("integration=%s PSA answering again; circuit closed", self.name)
        self.failures = 0
        self.open_until = 0.0

    def failure(self, error: PsaError) -> PsaError:
        """Count ``error`` (which the caller raises) toward opening the circuit."""
        self.failures += 1
        self.last_error = str(error)
        if self.failures == self.threshold or (self.failures > self.threshold
                                               and time.monotonic() >= self.open_until):
            self.open_until = time.monotonic() + self.cooldown
            log.warning("integration=%s PSA failed %d times in a row; pausing calls for %.1fs",
                        self.name, self.failures, self.cooldown)
        return error


class PsaClient:
    """HTTP to one integration's PSA. Share one ``aiohttp.ClientSession`` across clients."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        integration: str,
        *,
        timeout: float = 60.0,
        max_concurrency: int = 4,
        requests_per_second: float | None = None,
        policy: RetryPolicy = RetryPolicy(),
        metrics: Metrics | None = None,
        psa: str = "",
    ) -> None:
        self.session = session
        self.integration = integration
        self.psa = psa
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 15.0),
                                             sock_read=timeout)
        self.slots = PrioritySlots(max_concurrency)
        self.rate = _RateLimiter(requests_per_second) if requests_per_second else None
        self.policy = policy
        self.metrics = metrics
        self.circuit = _Circuit(integration, policy.circuit_threshold, policy.circuit_cooldown)
        self.requests_made = 0
        self.transport = UNGOVERNED

    def use(self, transport: TransportPolicy) -> None:
        """Apply a vendor's transport policy to every request from now on."""
        self.transport = transport

    async def get(self, url: str, *, params: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None,
                  auth: Authenticator | None = None,
                  decoder: msgspec.json.Decoder[Any] | None = None) -> Response:
        return await self.request("GET", url, params=params, headers=headers, auth=auth,
                                  decoder=decoder)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        auth: Authenticator | None = None,
        allow_statuses: frozenset[int] = frozenset(),
        governed: bool = True,
        decoder: msgspec.json.Decoder[Any] | None = None,
    ) -> Response:
        """Send one logical request, retrying what is worth retrying, within the
        vendor's :class:`TransportPolicy`.

        A relative ``url`` goes to the policy's discovered base. A request the
        PSA refused (401) while that base moved is sent once more to the new
        one; one throttled past its retries tells the budget and, if the budget
        learnt from it, is tried once more. ``governed=False`` is for the calls
        the policy makes itself (a base look-up, a usage check): no budget, no
        discovered base. A ``decoder`` decodes the body into typed structs where it
        fits them (see :func:`_decode`).
        """
        transport = self.transport if governed else UNGOVERNED
        discovery = transport.discovery
        base = await discovery.base() if discovery is not None else None
        target = url if base is None or _absolute(url) else base + url
        for last in (False, True):
            if transport.budget is not None:
                await transport.budget.acquire()
            try:
                return await self._request_logged(
                    method, target, params=params, headers=headers, json_body=json_body,
                    form=form, auth=auth, allow_statuses=allow_statuses, decoder=decoder)
            except PsaAuthError:
                if (last or discovery is None or base is None or not target.startswith(base)
                        or not await discovery.recheck(base)):
                    raise
                moved = await discovery.base()
                target, base = moved + target[len(base):], moved
            except PsaRateLimited:
                if last or transport.budget is None or not transport.budget.exhausted():
                    raise
        raise AssertionError("unreachable")

    async def _request_logged(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        json_body: Any,
        form: Mapping[str, str] | None,
        auth: Authenticator | None,
        allow_statuses: frozenset[int],
        decoder: msgspec.json.Decoder[Any] | None,
    ) -> Response:
        """One request with its retries. Each retry is logged at DEBUG; a request
        that needed retries is logged once, at INFO, with how it ended."""
        retried: list[str] = []
        try:
            response = await self._request_chain(
                method, url, retried, params=params, headers=headers, json_body=json_body,
                form=form, auth=auth, allow_statuses=allow_statuses, decoder=decoder)
        except PsaError as err:
            self._log_retried(method, url, retried, f"failed: {err}")
            raise
        self._log_retried(method, url, retried, f"HTTP {response.status}")
        return response

    def _log_retried(self, method: str, url: str, retried: list[str], outcome: str) -> None:
        """One INFO line for a request that needed retries: why, and how it ended."""
        if retried:
            log.info("integration=%s %s %s: %d retr%s (%s), then %s", self.integration,
                     method, redact_url(url), len(retried), "y" if len(retried) == 1 else "ies",
                     ", ".join(retried), outcome)

    async def _request_chain(
        self,
        method: str,
        url: str,
        retried: list[str],
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        auth: Authenticator | None = None,
        allow_statuses: frozenset[int] = frozenset(),
        decoder: msgspec.json.Decoder[Any] | None = None,
    ) -> Response:
        """:meth:`request`'s attempts; each retry's reason is added to ``retried``.

        Statuses in ``allow_statuses`` are returned instead of raised, for
        vendors that report errors in the body of an otherwise normal answer.
        """
        self.circuit.check()
        shown = redact_url(url)
        refreshed = False
        attempt = 0
        while True:
            send_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
            if auth is not None:
                send_headers.update(await auth.headers())
            if headers:
                send_headers.update(headers)
            try:
                status, resp_headers, text = await self._send(
                    method, url, params, send_headers, json_body, form)
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                reason = "timeout" if isinstance(err, asyncio.TimeoutError) else "connection"
                if attempt < self.policy.max_retries:
                    await self._retry_wait(attempt, reason, None, shown, retried)
                    attempt += 1
                    continue
                if isinstance(err, asyncio.TimeoutError):
                    raise self.circuit.failure(PsaTimeout(
                        f"{method} {shown}: no answer within {self.timeout.total:.0f}s",
                        integration=self.integration, url=shown)) from None
                raise self.circuit.failure(PsaUnavailable(
                    f"{method} {shown}: {type(err).__name__}: {err}",
                    integration=self.integration, url=shown)) from None

            if status == 401 and auth is not None and not refreshed:
                refreshed = True
                if await auth.refresh():
                    continue
            if status in RETRY_STATUSES and status not in allow_statuses:
                retry_after = parse_retry_after(resp_headers.get("Retry-After"))
                if status == 429 and self.metrics:
                    self.metrics.psa_throttle(self.integration)
                if attempt < self.policy.max_retries:
                    await self._retry_wait(attempt, str(status), retry_after, shown, retried)
                    attempt += 1
                    continue
                if status == 429:
                    raise self.circuit.failure(PsaRateLimited(
                        f"{method} {shown}: still throttled after {attempt} retries",
                        retry_after=retry_after, integration=self.integration, url=shown))
                raise self.circuit.failure(PsaUnavailable(
                    f"{method} {shown}: HTTP {status} after {attempt} retries",
                    integration=self.integration, url=shown))

            try:
                body = await parse_json(text, decoder)
            except ValueError:
                if 200 <= status < 300 and attempt < self.policy.max_retries:
                    await self._retry_wait(attempt, "bad_json", None, shown, retried)
                    attempt += 1
                    continue
                if 200 <= status < 300:
                    raise self.circuit.failure(PsaBadResponse(
                        f"{method} {shown}: response is not valid JSON", status=status,
                        body_excerpt=text[:200], integration=self.integration,
                        url=shown)) from None
                body = text[:500]
            self.circuit.success()
            if status >= 400 and status not in allow_statuses:
                self._raise_for(method, shown, status, body)
            return Response(status=status, headers=resp_headers, body=body, url=url)

    async def _send(self, method: str, url: str, params: Mapping[str, Any] | None,
                    headers: Mapping[str, str], json_body: Any,
                    form: Mapping[str, str] | None) -> tuple[int, Mapping[str, str], str]:
        endpoints = self.transport.endpoints
        if endpoints is None:
            return await self._send_slotted(method, url, params, headers, json_body, form)
        async with endpoints.slot(url):
            return await self._send_slotted(method, url, params, headers, json_body, form)

    async def _send_slotted(self, method: str, url: str, params: Mapping[str, Any] | None,
                            headers: Mapping[str, str], json_body: Any,
                            form: Mapping[str, str] | None
                            ) -> tuple[int, Mapping[str, str], str]:
        await self.slots.acquire(REQUEST_PRIORITY.get())
        try:
            if self.rate is not None:
                await self.rate.wait()
            started = time.perf_counter()
            status_label = "error"
            try:
                async with self.session.request(
                    method, url, params=params, headers=headers, json=json_body, data=form,
                    timeout=self.timeout, allow_redirects=False,
                ) as resp:
                    status_label = str(resp.status)
                    text = await resp.text(errors="replace")
                    return resp.status, dict(resp.headers), text
            finally:
                self.requests_made += 1
                if (counter := REQUEST_COUNTER.get()) is not None:
                    counter[0] += 1
                if self.metrics:
                    self.metrics.psa_request(self.integration, status_label,
                                             time.perf_counter() - started)
        finally:
            self.slots.release()

    async def _retry_wait(self, attempt: int, reason: str, retry_after: float | None,
                          shown: str, retried: list[str]) -> None:
        delay = retry_after if retry_after is not None else self.policy.backoff(attempt)
        retried.append(reason)
        if self.metrics:
            self.metrics.psa_retry(self.integration, reason)
        log.debug("integration=%s retrying %s after %s in %.2fs (attempt %d/%d)",
                  self.integration, shown, reason, delay, attempt + 1, self.policy.max_retries)
        await asyncio.sleep(delay)

    def _raise_for(self, method: str, shown: str, status: int, body: Any) -> None:
        detail = _error_detail(body)
        message = f"{method} {shown}: HTTP {status}" + (f": {detail}" if detail else "")
        if status in (401, 403):
            raise PsaAuthError(message, integration=self.integration, url=shown)
        if status == 404:
            raise PsaNotFound(message, integration=self.integration, url=shown)
        raise PsaBadResponse(message, status=status, body_excerpt=detail[:200],
                             integration=self.integration, url=shown)


def _absolute(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _error_detail(body: Any) -> str:
    """The human part of a vendor error body, whatever its shape."""
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "errors", "Message"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("Message")
            if isinstance(value, list):
                value = "; ".join(str(v.get("message", v) if isinstance(v, dict) else v)
                                  for v in value[:3])
            if value:
                return str(value)[:300]
        return ""
    if isinstance(body, str):
        return body[:300]
    return ""
