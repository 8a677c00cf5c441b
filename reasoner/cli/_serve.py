"""``reasoner serve``: its options, read into the core's engine options and the server's
:class:`~reasoner.server.ServeSettings`; the server itself is imported only when the command runs."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from reasoner._options import engine_from_options, split_names
from reasoner.cli._common import Command, Context
from reasoner.cli._options import add_model_options, add_tool_options, engine_options

if TYPE_CHECKING:
    from reasoner._engine import Engine
    from reasoner.models import Model
    from reasoner.server import ServeSettings

__all__ = ["SERVE", "add_serve_arguments", "serve_engine", "serve_main", "serve_settings"]


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``reasoner serve``."""
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
    library's default planner prompt (``models`` are injected by tests, as for ``run``)."""
    return engine_from_options(engine_options(args), env, models)


def serve_settings(args: argparse.Namespace, env: Mapping[str, str]) -> ServeSettings:
    """The server settings the options give; the keys are ``--api-key`` and ``$REASONER_API_KEYS``."""
    from reasoner.server import ServeSettings

    return ServeSettings(
        host=args.host,
        port=args.port,
        api_keys=(*(args.api_key or ()), *split_names([env.get("REASONER_API_KEYS", "")])),
        cors_origins=tuple(args.cors_origin or ()),
        allowed_hosts=tuple(args.allowed_host or ()),
        engine_name=args.engine_name,
        max_body_bytes=args.max_body_bytes,
        max_query_chars=args.max_query_chars,
        max_concurrent_runs=args.max_concurrent_runs,
        keepalive_s=args.keepalive,
        max_connections=args.max_connections,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        idle_timeout_s=args.idle_timeout,
        max_header_bytes=args.max_header_bytes,
        approvals=args.approvals,
        approval_timeout_s=args.approval_timeout,
        runs_dir=args.runs_dir,
        log_level=args.log_level,
    )


def serve_main(args: argparse.Namespace, env: Mapping[str, str] | None = None, models: Mapping[str, Model] | None = None) -> int:
    """Run ``reasoner serve`` with parsed ``args`` until interrupted.

    Raises:
        UsageError: a bad option (the message names it); ``OptionError`` for a bad
            ``--tools`` or model name.
    """
    import os

    from reasoner.server import serve

    env = os.environ if env is None else env
    settings = serve_settings(args, env)
    settings.check()  # before any model or tool is loaded
    serve(serve_engine(args, env, models), settings)
    return 0


def _handle(args: argparse.Namespace, ctx: Context) -> int:
    return serve_main(args, ctx.env, ctx.models)


SERVE = Command(
    name="serve",
    help="serve the engine over HTTP: /v1/reason (SSE) and OpenAI-compatible /v1/chat/completions",
    description="Serve the engine with uvicorn: POST /v1/reason streams events as Server-Sent Events, "
    "POST /v1/chat/completions speaks the OpenAI protocol, GET /v1/models, /v1/tools, /healthz, /openapi.json.",
    configure=add_serve_arguments,
    handler=_handle,
)
