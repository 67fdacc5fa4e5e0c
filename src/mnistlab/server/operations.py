"""What a server on a network needs besides its endpoints, as small standard pieces.

- `Heavy`: a bound on the pictures being decoded and read at once; a request waits briefly for a free
  slot, then gets 503 with `Retry-After` instead of piling up work and memory.
- `Operations` (one ASGI middleware): an access log line per request (text or JSON), Prometheus
  metrics (requests and latency per endpoint, in flight, refused), security headers, the bearer
  token on `/api/*`, and a deadline for reading a request's body (a client that stalls gets 408).
- CORS and trusted hosts are Starlette's own middleware (`install`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sys
import time

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool

OPEN_PATHS = ("/api/health", "/livez", "/readyz", "/metrics")  # answered without the token
BODY_SECONDS = 30.0  # a request body must arrive within this long
QUEUE_SECONDS = 2.0  # a picture waits at most this long for a free slot, then 503

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'"),
]


class Heavy:
    """At most `limit` decodes and reads at once. A request waits up to `wait` seconds for a free slot
    (on the event loop, without blocking it); past that it is refused with 503 + Retry-After, so a
    flood of large pictures never piles up work or memory."""

    def __init__(self, limit: int, metrics: "Metrics | None" = None, wait: float = QUEUE_SECONDS):
        self.limit = max(1, int(limit))
        self.busy = 0
        self.metrics = metrics
        self.wait = wait
        self._slots: asyncio.Semaphore | None = None

    async def run(self, fn, *args):
        if self._slots is None:  # made inside the running loop
            self._slots = asyncio.Semaphore(self.limit)
        try:
            if self.wait > 0:
                await asyncio.wait_for(self._slots.acquire(), timeout=self.wait)
            elif self._slots.locked():
                raise asyncio.TimeoutError
            else:
                await self._slots.acquire()
        except asyncio.TimeoutError:
            if self.metrics:
                self.metrics.refused.inc()
            raise HTTPException(503, f"busy: {self.busy} pictures are being read; try again in a second",
                                headers={"Retry-After": "1"}) from None
        self.busy += 1
        try:
            return await run_in_threadpool(fn, *args)
        finally:
            self.busy -= 1
            self._slots.release()


class Metrics:
    """The server's Prometheus metrics, in a registry of its own."""

    def __init__(self, model: dict):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

        self.registry = CollectorRegistry()
        self.requests = Counter("mnistlab_requests", "Requests answered", ["endpoint", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("mnistlab_request_seconds", "Time to answer a request", ["endpoint"],
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30),
                                 registry=self.registry)
        self.in_flight = Gauge("mnistlab_requests_in_flight", "Requests being answered", registry=self.registry)
        self.refused = Counter("mnistlab_refused", "Requests refused as busy (503)", registry=self.registry)
        Info("mnistlab_model", "The model being served", registry=self.registry).info(
            {k: str(v) for k, v in model.items()})

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class Operations:
    """ASGI middleware: access log, metrics, security headers, token, body deadline."""

    def __init__(self, app, metrics: Metrics, token: str | None = None, log_format: str | None = None,
                 body_seconds: float = BODY_SECONDS):
        self.app = app
        self.metrics = metrics
        self.token = token
        self.log_format = log_format
        self.body_seconds = body_seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        path = scope.get("path", "")
        endpoint = path if path.startswith(("/api/", "/docs", "/metrics", "/livez", "/readyz")) or path == "/" \
            else "other"
        status = {"code": 500}

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message = {**message, "headers": list(message.get("headers", [])) + SECURITY_HEADERS}
            await send(message)

        async def deadline_receive():
            try:
                return await asyncio.wait_for(receive(), timeout=self.body_seconds)
            except asyncio.TimeoutError:
                raise _Stalled() from None

        self.metrics.in_flight.inc()
        try:
            if self.token and path.startswith("/api/") and path not in OPEN_PATHS and not self._authorized(scope):
                await _json(tracking_send, 401, "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                            [(b"www-authenticate", b"Bearer")])
            else:
                try:
                    await self.app(scope, deadline_receive, tracking_send)
                except _Stalled:
                    await _json(tracking_send, 408, f"the request body did not arrive within {self.body_seconds:.0f} s")
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - start
            self.metrics.requests.labels(endpoint, scope.get("method", ""), str(status["code"])).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            self._access(scope, status["code"], seconds)

    def _authorized(self, scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                given = value.decode("latin-1")
                return given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip(), self.token)
        return False

    def _access(self, scope, status: int, seconds: float) -> None:
        if not self.log_format:
            return
        client = scope.get("client") or ("-", 0)
        entry = {"client": client[0], "method": scope.get("method", ""), "path": scope.get("path", ""),
                 "status": status, "ms": round(1000 * seconds, 1)}
        if self.log_format == "json":
            line = json.dumps(entry)
        else:
            line = f'{entry["client"]} "{entry["method"]} {entry["path"]}" {status} {entry["ms"]} ms'
        print(line, file=sys.stderr, flush=True)


class _Stalled(Exception):
    pass


async def _json(send, status: int, detail: str, headers=()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def install(app, metrics: Metrics, token: str | None, cors_origins: list[str], trusted_hosts: list[str] | None,
            log_format: str | None) -> None:
    """Add CORS, trusted hosts and `Operations` to `app` (outermost last)."""
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    if trusted_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=trusted_hosts)
    app.add_middleware(Operations, metrics=metrics, token=token, log_format=log_format)
