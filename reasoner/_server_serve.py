"""``reasoner serve``: its options, and :func:`serve_main`, which runs :func:`create_app` on uvicorn
with connection limits and deadlines on request heads, bodies and idle connections."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from reasoner._roles import Budget
from reasoner._server import LOOPBACK_HOSTS, create_app
from reasoner.errors import UsageError

if TYPE_CHECKING:
    from reasoner._engine import Engine
    from reasoner.models import Model

__all__ = ["add_serve_arguments", "allowed_hosts", "serve_engine", "serve_main"]

logger = logging.getLogger("reasoner.server")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``reasoner serve``."""
    from reasoner._cli_load import add_tool_options
    from reasoner._cli_roles import add_model_options

    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    net.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    net.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        help="accept this bearer key (repeatable; also $REASONER_API_KEYS, comma-separated); none: no auth",
    )
    net.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="allow this browser origin (repeatable; default: CORS off and requests with an Origin header refused)",
    )
    net.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a name clients may reach the server by, in the Host header (repeatable; '*': any; "
        "default: localhost, 127.0.0.1, ::1 and --host when it is a specific address)",
    )
    add_model_options(parser)
    parser.add_argument("--engine-name", default="reasoner", help="the model id clients ask for (default: reasoner)")
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-body-bytes", type=int, default=1_000_000, metavar="N", help="largest request body (default: 1000000)"
    )
    limits.add_argument("--max-query-chars", type=int, default=8_000, metavar="N", help="longest query (default: 8000)")
    limits.add_argument(
        "--max-concurrent-runs", type=int, default=32, metavar="N", help="runs at once; more get 429 (default: 32)"
    )
    limits.add_argument("--max-iterations", type=int, metavar="N", help="plans per run at most (default and cap; default 3)")
    limits.add_argument(
        "--max-tokens", type=int, metavar="N", help="model tokens per run at most (default and cap; default 32000)"
    )
    limits.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="wall time per run at most (default and cap; default 300)"
    )
    limits.add_argument("--keepalive", type=float, default=15.0, metavar="SECONDS", help="SSE keep-alive interval (default: 15)")
    limits.add_argument(
        "--max-connections", type=int, default=256, metavar="N", help="open connections at most; more get 503 (default: 256)"
    )
    limits.add_argument(
        "--header-timeout", type=float, default=10.0, metavar="SECONDS",
        help="a request's headers must arrive within this, or the connection is closed (default: 10)",
    )  # fmt: skip
    limits.add_argument(
        "--body-timeout", type=float, default=30.0, metavar="SECONDS", help="a request body must arrive within this; 408 after (default: 30)"
    )
    limits.add_argument(
        "--idle-timeout", type=float, default=5.0, metavar="SECONDS", help="close a keep-alive connection idle this long (default: 5)"
    )
    limits.add_argument(
        "--max-header-bytes", type=int, default=65_536, metavar="N", help="largest request head; more gets 400 (default: 65536)"
    )
    people = parser.add_argument_group("people in the loop")
    people.add_argument(
        "--approvals", choices=["refuse", "approve", "engine"], default="refuse",
        help="calls that need approval in runs that cannot ask (chat completions, non-streamed runs): refuse them "
        "(default), approve them, or let the engine's approver decide; streamed runs always ask the client",
    )  # fmt: skip
    people.add_argument(
        "--approval-timeout", type=float, default=300.0, metavar="SECONDS", help="an unanswered approval is denied after this (default: 300)"
    )
    people.add_argument("--runs-dir", metavar="DIR", help="also keep every finished trace and its feedback there (for reasoner tune --from-feedback)")
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"], help="uvicorn log level"
    )
    add_tool_options(parser)


def serve_engine(args: argparse.Namespace, env: Mapping[str, str], models: Mapping[str, Model] | None = None) -> Engine:
    """The engine ``reasoner serve`` runs: the tools and models the options name, with the
    library's default planner prompt (``models`` are injected by tests, as for the CLI)."""
    from reasoner._cli_load import build_registry
    from reasoner._cli_roles import resolve_roles
    from reasoner._engine import Engine

    limits = {"iterations": args.max_iterations, "tokens": args.max_tokens, "seconds": args.timeout}
    budget = Budget(**{k: v for k, v in limits.items() if v is not None})
    roles = resolve_roles(args, env, models or {})
    return Engine(
        tools=build_registry(args, env),
        planner=roles.planner,
        joiner=roles.joiner,
        answerer=roles.answerer,
        catalog=roles.catalog,
        budget=budget,
    )


def serve_main(args: argparse.Namespace) -> int:
    """Run ``reasoner serve`` with parsed ``args`` (see :func:`add_serve_arguments`) until interrupted.

    Raises:
        UsageError: a bad option (the message names it); ``CliError`` for a bad ``--tools``.
    """
    import uvicorn

    from reasoner._cli_common import split_names
    from reasoner._server_h11 import with_header_deadline

    for name in ("max_connections", "max_header_bytes"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("header_timeout", "body_timeout", "idle_timeout"):
        if not getattr(args, name) > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a number of seconds > 0, got {getattr(args, name)}")
    env = os.environ
    keys = [*(args.api_key or ()), *split_names([env.get("REASONER_API_KEYS", "")])]
    engine = serve_engine(args, env)
    budget = engine.budget
    app = create_app(
        engine,
        api_keys=keys,
        max_body_bytes=args.max_body_bytes,
        max_query_chars=args.max_query_chars,
        max_concurrent_runs=args.max_concurrent_runs,
        cors_origins=args.cors_origin or (),
        keepalive_s=args.keepalive,
        engine_name=args.engine_name,
        max_budget=budget,
        allowed_hosts=allowed_hosts(args.host, args.allowed_host),
        body_timeout_s=args.body_timeout,
        approvals=args.approvals,
        approval_timeout_s=args.approval_timeout,
        runs_dir=args.runs_dir,
    )
    if not keys and args.host not in LOOPBACK_HOSTS:
        logger.warning("serving on %s with no API key: anyone who can reach it may run the engine (pass --api-key)", args.host)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        http=with_header_deadline(args.header_timeout),
        limit_concurrency=args.max_connections,
        timeout_keep_alive=max(1, round(args.idle_timeout)),
        h11_max_incomplete_event_size=args.max_header_bytes,
    )
    return 0


def allowed_hosts(host: str, given: Iterable[str] | None) -> tuple[str, ...]:
    """``--allowed-host`` values, or loopback plus the bound address when it is a specific one."""
    if given:
        return tuple(given)
    wildcard = host in ("0.0.0.0", "::", "")
    if wildcard:
        logger.warning(
            "serving on %s: only requests naming localhost or 127.0.0.1 in their Host header are answered; "
            "pass --allowed-host NAME for the names clients use (or '*')",
            host or "all addresses",
        )
    return tuple(dict.fromkeys((*LOOPBACK_HOSTS, *(() if wildcard else (host,)))))
