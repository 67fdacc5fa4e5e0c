"""Connections that never finish their request headers are closed, not kept (slowloris).

uvicorn closes a connection that idles after a response (`timeout_keep_alive`) and the Operations
middleware bounds a request body (`operations.BODY_SECONDS`), but a client that opens a connection and
sends its headers a byte at a time, or not at all, would hold it for ever. This protocol is uvicorn's
own h11 protocol with one addition: from the moment a connection opens, and again after every
response, the next request's headers must be complete within HEADER_SECONDS.
"""

from __future__ import annotations

import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# MNISTLAB_HEADER_SECONDS overrides it (every worker process reads it at start).
HEADER_SECONDS = float(os.environ.get("MNISTLAB_HEADER_SECONDS", "10"))


class HeaderDeadline(H11Protocol):
    header_seconds = HEADER_SECONDS
    _header_timer = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is not None and self.conn.their_state is not h11.IDLE:
            self._disarm()  # the request line and headers are in

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.transport.close()
