"""What a server on a network needs besides its endpoints, as small standard pieces.

- `Heavy`: a bound on the pictures being decoded and read at once; a request waits briefly for a free
  slot, then gets 503 with `Retry-After` instead of piling up work and memory.
- `Operations` (ASGI middleware): an access log line per request (text or JSON, control characters
  escaped), Prometheus metrics (requests and latency per route template, in flight, refused: labels
  from a fixed set, `Routes`), security headers, and a deadline for a request's whole body (a client
  that stalls or drips it gets 408).
- `TokenCheck`: the bearer token on `/api/*`, compared as bytes, inside CORS (preflights pass).
- CORS is Starlette's own middleware; trusted hosts too, with the health paths answered for any
  Host (`HealthAnyHost`). `install` puts them in order.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import sys
import time

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool

OPEN_PATHS = ("/api/health", "/livez", "/readyz", "/metrics")  # answered without the token
HEALTH_PATHS = ("/api/health", "/livez", "/readyz")  # answered whatever the Host
# A request's whole body must arrive within this long (MNISTLAB_BODY_SECONDS overrides it).
BODY_SECONDS = float(os.environ.get("MNISTLAB_BODY_SECONDS", "30"))
QUEUE_SECONDS = 2.0  # a picture waits at most this long for a free slot, then 503

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'",
    ),
]


# Pixels being decoded at once, over all requests: a 40-Mpixel picture decodes to about 160 MB
# before it is shrunk, so this bounds what decoding holds at once (one such picture, or many small).
PIXEL_BUDGET = 48_000_000


class Heavy:
    """At most `limit` decodes and reads at once, and at most `pixels` declared pixels being decoded
    at once (one picture over it alone may run). A request waits up to `wait` seconds for room (on
    the event loop, without blocking it); past that it is refused with 503 + Retry-After, so a flood
    of large pictures never piles up work or memory."""

    def __init__(
        self, limit: int, metrics: Metrics | None = None, wait: float = QUEUE_SECONDS, pixels: int = PIXEL_BUDGET
    ):
        self.limit = max(1, int(limit))
        self.pixel_budget = pixels
        self.busy = 0
        self.pixels = 0
        self.metrics = metrics
        self.wait = wait
        self._room: asyncio.Condition | None = None

    def _fits(self, pixels: int) -> bool:
        return self.busy < self.limit and (self.pixels + pixels <= self.pixel_budget or self.busy == 0)

    async def run(self, fn, *args, pixels: int = 0):
        if self._room is None:  # made inside the running loop
            self._room = asyncio.Condition()
        async with self._room:
            try:
                if self.wait > 0:
                    await asyncio.wait_for(self._room.wait_for(lambda: self._fits(pixels)), timeout=self.wait)
                elif not self._fits(pixels):
                    raise asyncio.TimeoutError
            except asyncio.TimeoutError:
                if self.metrics:
                    self.metrics.refused.inc()
                raise HTTPException(
                    503,
                    f"busy: {self.busy} pictures are being read; try again in a second",
                    headers={"Retry-After": "1"},
                ) from None
            self.busy += 1
            self.pixels += pixels
        try:
            return await run_in_threadpool(fn, *args)
        finally:
            async with self._room:
                self.busy -= 1
                self.pixels -= pixels
                self._room.notify_all()


def _libc():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own arena (up to 8 a core) and keeps what is freed
    there: decodes on the pool's many threads could each leave a picture's worth behind. Two arenas
    bound that. (Trimming after each large decode as well took the 40-Mpixel PNG attack's peak from
    about 0.7 GB to 0.45 GB but /api/health's p99 from 13 ms to 49-238 ms: not done.)"""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(-8, arenas)  # M_ARENA_MAX


class Metrics:
    """The server's Prometheus metrics, in a registry of its own."""

    def __init__(self, model: dict):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mnistlab_requests", "Requests answered", ["endpoint", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "mnistlab_request_seconds",
            "Time to answer a request",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.in_flight = Gauge("mnistlab_requests_in_flight", "Requests being answered", registry=self.registry)
        self.refused = Counter("mnistlab_refused", "Requests refused as busy (503)", registry=self.registry)
        Info("mnistlab_model", "The model being served", registry=self.registry).info(
            {k: str(v) for k, v in model.items()}
        )

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Routes:
    """A request's path and method as metric labels from a fixed set: the app's route templates
    (mounted folders by their prefix) and the HTTP methods, anything else "other". A client
    choosing paths or methods can never grow the metrics. Read from the app at the first request,
    when every route is in."""

    def __init__(self, app=None, paths: set[str] = (), prefixes: tuple[str, ...] = ()):
        self.app = app
        self.paths, self.prefixes = frozenset(paths), tuple(prefixes)

    def _learn(self) -> None:
        from starlette.routing import Mount

        paths, prefixes = set(self.paths), list(self.prefixes)
        for route in self.app.routes:
            if isinstance(route, Mount):
                prefixes.append(route.path)
            elif getattr(route, "path", None) and "{" not in route.path:
                paths.add(route.path)
        self.paths, self.prefixes, self.app = frozenset(paths), tuple(prefixes), None

    def endpoint(self, path: str) -> str:
        if self.app is not None:
            self._learn()
        if path in self.paths:
            return path
        for prefix in self.prefixes:
            if path.startswith(prefix + "/"):
                return prefix
        return "other"

    @staticmethod
    def method(method: str) -> str:
        return method if method in METHODS else "other"


def printable(text: str) -> str:
    """Text for a log line: control characters (a forged newline, a terminal escape) as \\xNN."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


class Operations:
    """ASGI middleware: access log, metrics (labels from `routes`), security headers, and a deadline
    for a request's whole body (a client that stalls or drips it gets 408)."""

    def __init__(
        self,
        app,
        metrics: Metrics,
        routes: Routes | None = None,
        log_format: str | None = None,
        body_seconds: float = BODY_SECONDS,
    ):
        self.app = app
        self.metrics = metrics
        self.routes = routes or Routes()
        self.log_format = log_format
        self.body_seconds = body_seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        path = scope.get("path", "")
        status = {"code": 500}
        deadline = asyncio.get_running_loop().time() + self.body_seconds

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message = {**message, "headers": list(message.get("headers", [])) + SECURITY_HEADERS}
            await send(message)

        async def deadline_receive():
            # The whole body within body_seconds of the request's start, not each piece: a client
            # dripping a byte every few seconds is cut off as surely as one that stops.
            left = deadline - asyncio.get_running_loop().time()
            try:
                if left <= 0:
                    raise asyncio.TimeoutError
                return await asyncio.wait_for(receive(), timeout=left)
            except asyncio.TimeoutError:
                raise Stalled() from None

        self.metrics.in_flight.inc()
        try:
            try:
                await self.app(scope, deadline_receive, tracking_send)
            except Stalled:
                await _json(tracking_send, 408, f"the request body did not arrive within {self.body_seconds:.0f} s")
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - start
            endpoint = self.routes.endpoint(path)
            self.metrics.requests.labels(endpoint, Routes.method(scope.get("method", "")), str(status["code"])).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            self._access(scope, status["code"], seconds)

    def _access(self, scope, status: int, seconds: float) -> None:
        if not self.log_format:
            return
        client = scope.get("client") or ("-", 0)
        entry = {
            "client": client[0],
            "method": scope.get("method", ""),
            "path": scope.get("path", ""),
            "status": status,
            "ms": round(1000 * seconds, 1),
        }
        if self.log_format == "json":
            line = json.dumps(entry)  # JSON escapes control characters itself
        else:
            line = (
                f'{entry["client"]} "{printable(entry["method"])} {printable(entry["path"])}" {status} {entry["ms"]} ms'
            )
        print(line, file=sys.stderr, flush=True)


class TokenCheck:
    """ASGI middleware: the bearer token on `/api/*` (but the open paths). It sits inside CORS, so a
    browser's preflight (which carries no token) is answered and a 401 carries CORS headers."""

    def __init__(self, app, token: str):
        self.app = app
        self.expected = b"Bearer " + token.encode("utf-8")

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.startswith("/api/")
            and path not in OPEN_PATHS
            and not self._authorized(scope)
        ):
            return await _json(
                send,
                401,
                "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                [(b"www-authenticate", b"Bearer")],
            )
        return await self.app(scope, receive, send)

    def _authorized(self, scope) -> bool:
        # Compared as bytes, in constant time: any header (non-ASCII, empty, huge) is a yes or a no.
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                return hmac.compare_digest(value.strip(), self.expected)
        return False


class HealthAnyHost:
    """Starlette's TrustedHostMiddleware, except for the health paths: a probe that sends an IP
    address as its Host (kubelet, a load balancer) is answered."""

    def __init__(self, app, allowed_hosts: list[str]):
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        self.app = app
        self.checked = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path") in HEALTH_PATHS:
            return await self.app(scope, receive, send)
        return await self.checked(scope, receive, send)


class Stalled(Exception):
    """The request body did not arrive in time (answered 408)."""


async def _json(send, status: int, detail: str, headers=()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install(
    app,
    metrics: Metrics,
    token: str | None,
    cors_origins: list[str],
    trusted_hosts: list[str] | None,
    log_format: str | None,
) -> None:
    """Add the token check, CORS, trusted hosts and `Operations` to `app`, innermost first: a
    preflight is answered before any token is asked for, and every answer is logged and counted."""
    from starlette.middleware.cors import CORSMiddleware

    if token:
        app.add_middleware(TokenCheck, token=token)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    if trusted_hosts:
        app.add_middleware(HealthAnyHost, allowed_hosts=trusted_hosts)
    app.add_middleware(Operations, metrics=metrics, routes=Routes(app), log_format=log_format)
