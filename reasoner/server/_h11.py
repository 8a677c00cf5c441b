"""uvicorn's h11 protocol with a deadline on request heads (``reasoner serve --header-timeout``).

uvicorn closes idle keep-alive connections, but a client that connects and then sends
nothing, or sends its headers a byte at a time, holds a connection for as long as it
likes (slowloris). Here every request head (the first on a connection, and each next one
once the previous response is complete) must arrive within ``header_timeout_s`` seconds of
the connection opening or of the first byte after the last response; otherwise the
connection is closed. The request body has its own deadline in the app (408).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HeaderDeadlineH11", "with_header_deadline"]


class HeaderDeadlineH11(H11Protocol):
    header_timeout_s: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_head():
            self._arm()
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm()  # idle from here: uvicorn's keep-alive timeout applies until the next byte

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expired(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()


def with_header_deadline(seconds: float) -> type[Any]:
    """A :class:`HeaderDeadlineH11` subclass for ``uvicorn.run(http=...)`` with ``seconds``."""
    return type("HeaderDeadlineH11", (HeaderDeadlineH11,), {"header_timeout_s": seconds})
