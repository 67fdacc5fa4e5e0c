"""Connections are finite: none is held by a client that never finishes its request.

uvicorn closes a connection that idles after a response (`timeout_keep_alive`) and the Operations
middleware bounds a request body (`operations.BODY_SECONDS`), but a client that opens a connection and
sends its headers a byte at a time, or not at all, or declares a body it never sends on a request
the server answers without reading it, would hold it for ever. This protocol is uvicorn's own h11
protocol with three additions:
- from the moment a connection opens, and again after every response, the next request's headers
  must be complete within HEADER_SECONDS;
- a connection whose request body was not all read when its answer was sent (a 413, a 401, a GET
  declaring a body) lingers: what is left of the body is read and dropped for at most
  LINGER_SECONDS and LINGER_BYTES, so that the client can read its answer, then the connection is
  closed (a body that does finish starts the next request as usual);
- one client (one address) holds at most PER_CLIENT connections, well under the server's limit, so
  that others, health probes included, are always answered.
"""

from __future__ import annotations

import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# MNISTLAB_HEADER_SECONDS overrides it (every worker process reads it at start).
HEADER_SECONDS = float(os.environ.get("MNISTLAB_HEADER_SECONDS", "10"))
PER_CLIENT = int(os.environ.get("MNISTLAB_CONNECTIONS_PER_CLIENT", "512"))  # uvicorn's limit here: 4,000
LINGER_SECONDS = float(os.environ.get("MNISTLAB_LINGER_SECONDS", "5"))  # as nginx's lingering_timeout
LINGER_BYTES = 16 * 1024 * 1024


class HeaderDeadline(H11Protocol):
    header_seconds = HEADER_SECONDS
    per_client = PER_CLIENT
    linger_seconds = LINGER_SECONDS
    linger_bytes = LINGER_BYTES
    _lingering: int | None = None  # bytes drained since the answer, while lingering
    _header_timer = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        if host is not None and sum(1 for c in self.connections if c.client and c.client[0] == host) > self.per_client:
            transport.close()  # this address holds its share already
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._lingering is not None:
            self._lingering += len(data)
            if self._lingering > self.linger_bytes and not self.transport.is_closing():
                self.transport.close()
        elif self._header_timer is not None and self.conn.their_state is not h11.IDLE:
            self._disarm()  # the request line and headers are in

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.conn.their_state not in (h11.DONE, h11.IDLE):
            # The answer went out before the request's body came in (a GET declaring one, a 401 or
            # 413 before reading): linger, then close, whatever the client does meanwhile.
            self._disarm()
            self._lingering = 0
            self._header_timer = self.loop.call_later(self.linger_seconds, self._end_linger)
            return
        self._arm()

    def _end_linger(self) -> None:
        self._header_timer, self._lingering = None, None
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:
            self._arm()  # the body did finish: the next request's headers are due as usual
        else:
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._lingering = None
        self._header_timer = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.transport.close()
