"""The HTTP face of the engine: :func:`create_app` builds a Starlette (ASGI) app over an
:class:`~reasoner.Engine`, and :func:`serve` runs it on uvicorn with :class:`ServeSettings`
(``reasoner serve`` is the command line for it).

The server uses the public API and the engine core only; it never imports
:mod:`reasoner.cli`. Routes, errors and limits: see :func:`create_app`.

::

    from reasoner import Engine
    from reasoner.server import ServeSettings, create_app, serve

    app = create_app(Engine(tools=[...]))             # mount it in any ASGI server
    serve(Engine(tools=[...]), ServeSettings(port=8000))   # or run it on uvicorn
"""

from __future__ import annotations

from reasoner.server._app import LOOPBACK_HOSTS as LOOPBACK_HOSTS
from reasoner.server._app import ServerConfig as ServerConfig
from reasoner.server._app import create_app as create_app
from reasoner.server._serve import ServeSettings as ServeSettings
from reasoner.server._serve import allowed_hosts as allowed_hosts
from reasoner.server._serve import serve as serve

__all__ = ["LOOPBACK_HOSTS", "ServeSettings", "ServerConfig", "allowed_hosts", "create_app", "serve"]
