"""Running the app on uvicorn: :class:`ServeSettings` (the network, limits and deadlines) and
:func:`serve`, which runs :func:`~reasoner.server.create_app` with connection limits and
deadlines on request heads, bodies and idle connections. ``reasoner serve`` (the CLI) reads
its flags into these settings; nothing here parses a command line."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reasoner.errors import UsageError
from reasoner.server._app import LOOPBACK_HOSTS, create_app
from reasoner.server._people import ApprovalPolicy

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from reasoner._engine import Engine

__all__ = ["ServeSettings", "allowed_hosts", "serve"]

logger = logging.getLogger("reasoner.server")


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """How :func:`serve` listens and what it allows (see ``reasoner serve --help`` for each).

    ``allowed_hosts`` empty: loopback names plus ``host`` when it is a specific address.
    The engine's own budget is the cap on per-request budgets.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: Sequence[str] = ()
    cors_origins: Sequence[str] = ()
    allowed_hosts: Sequence[str] = ()
    engine_name: str = "reasoner"
    max_body_bytes: int = 1_000_000
    max_query_chars: int = 8_000
    max_concurrent_runs: int = 32
    keepalive_s: float = 15.0
    max_connections: int = 256
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    idle_timeout_s: float = 5.0
    max_header_bytes: int = 65_536
    approvals: ApprovalPolicy = "refuse"
    approval_timeout_s: float = 300.0
    runs_dir: str | None = None
    log_level: str = "info"

    def check(self) -> None:
        """Raises :class:`UsageError` naming the first setting out of range."""
        for name, flag in (("max_connections", "max-connections"), ("max_header_bytes", "max-header-bytes")):
            if getattr(self, name) < 1:
                raise UsageError(f"--{flag} must be >= 1, got {getattr(self, name)}")
        for name, flag in (("header_timeout_s", "header-timeout"), ("body_timeout_s", "body-timeout"), ("idle_timeout_s", "idle-timeout")):
            if not getattr(self, name) > 0:
                raise UsageError(f"--{flag} must be a number of seconds > 0, got {getattr(self, name)}")


def app_for(engine: Engine, settings: ServeSettings) -> Starlette:
    """The app :func:`serve` runs for ``engine`` under ``settings``."""
    return create_app(
        engine,
        api_keys=settings.api_keys,
        max_body_bytes=settings.max_body_bytes,
        max_query_chars=settings.max_query_chars,
        max_concurrent_runs=settings.max_concurrent_runs,
        cors_origins=settings.cors_origins,
        keepalive_s=settings.keepalive_s,
        engine_name=settings.engine_name,
        max_budget=engine.budget,
        allowed_hosts=allowed_hosts(settings.host, settings.allowed_hosts),
        body_timeout_s=settings.body_timeout_s,
        approvals=settings.approvals,
        approval_timeout_s=settings.approval_timeout_s,
        runs_dir=settings.runs_dir,
    )


def serve(engine: Engine, settings: ServeSettings) -> None:
    """Serve ``engine`` with uvicorn under ``settings`` until interrupted.

    Raises:
        UsageError: a setting out of range (the message names it).
    """
    import uvicorn

    from reasoner.server._h11 import with_header_deadline

    settings.check()
    app = app_for(engine, settings)
    if not settings.api_keys and settings.host not in LOOPBACK_HOSTS:
        logger.warning("serving on %s with no API key: anyone who can reach it may run the engine (pass --api-key)", settings.host)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        http=with_header_deadline(settings.header_timeout_s),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=max(1, round(settings.idle_timeout_s)),
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )


def allowed_hosts(host: str, given: Iterable[str] | None) -> tuple[str, ...]:
    """The given ``Host`` names, or loopback plus the bound address when it is a specific one."""
    given = tuple(given or ())
    if given:
        return given
    wildcard = host in ("0.0.0.0", "::", "")
    if wildcard:
        logger.warning(
            "serving on %s: only requests naming localhost or 127.0.0.1 in their Host header are answered; "
            "pass --allowed-host NAME for the names clients use (or '*')",
            host or "all addresses",
        )
    return tuple(dict.fromkeys((*LOOPBACK_HOSTS, *(() if wildcard else (host,)))))
