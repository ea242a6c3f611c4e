"""The application factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask_bootstrap import Bootstrap5

from . import alerts_api, api, routes
from .connections import (
    ClientCap,
    ClientLimits,
    OpenSessions,
    default_max_clients,
    open_files_limit,
)
from .extensions import socketio
from .logs import LoggedErrors
from .runtime import Dashboard
from .security import SecureHeaders
from .settings import Settings

# templates/ and static/ sit at the top of the repository, beside server.py
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# bytes a browser may send in one Socket.IO message (its connect auth is about 40)
MAX_CLIENT_MESSAGE = 4096
# Engine.IO's heartbeat: the server pings every PING_INTERVAL_S, so a healthy link is never
# quiet for long and the page can call a link silent for 4 s down (static/js/dashboard.js) and
# grey every value: a link can die without a TCP close (a cable, a Wi-Fi drop, a sleeping
# laptop). A client that has not answered a ping within PING_TIMEOUT_S is dropped, and a browser
# that heard no ping for their sum drops the link and reconnects; the timeout stays generous so
# that a busy or slow client is resynchronized (dashboard.backpressure), not cut. The cost is a
# 1-byte ping and pong per client every 2 s.
PING_INTERVAL_S = 2
PING_TIMEOUT_S = 8


def create_app(settings: Settings, async_mode: str | None = None, *,
               runtime: Callable[[Settings], Any] = Dashboard,
               client_manager: Any = None) -> Flask:
    """Build the Flask app and bind Socket.IO to it; starts nothing and does no I/O.

    ``async_mode`` None means ``settings.async_mode`` (``ASYNC_MODE``); unit tests pass
    ``"threading"``. A web node (``dashboard.roles``) passes its own ``runtime`` instead of
    ``Dashboard`` and the message queue's ``client_manager``.
    """
    app = Flask(__name__, root_path=str(PROJECT_ROOT))
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        BOOTSTRAP_SERVE_LOCAL=True,  # Bootstrap from the package, never from a CDN
    )
    Bootstrap5(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(alerts_api.bp)
    from . import events  # noqa: F401  (registers the Socket.IO handlers)

    socketio.init_app(
        app,
        async_mode=async_mode or settings.async_mode,
        client_manager=client_manager,  # None: this process's clients only (no queue)
        # send the connect ack before our connect handler runs, so its snapshot follows it
        always_connect=True,
        # cors_allowed_origins left at its default: same origin only
        # a browser only ever sends its connect packet and pongs: anything longer is refused
        # (HTTP 400 on polling, the websocket closed) before it is even decoded
        max_http_buffer_size=MAX_CLIENT_MESSAGE,
        ping_interval=PING_INTERVAL_S,
        ping_timeout=PING_TIMEOUT_S,
    )
    app.extensions["dashboard"] = runtime(settings)
    open_files = open_files_limit()
    limits = ClientLimits(max_clients=settings.max_clients or default_max_clients(open_files),
                          open_files=open_files)
    app.extensions["client_limits"] = limits
    # outermost first: every response gets the security headers, refusals included
    sessions = OpenSessions(lambda: socketio.server and socketio.server.eio.sockets,
                            lambda: limits.max_clients)
    app.wsgi_app = SecureHeaders(  # type: ignore[method-assign]
        LoggedErrors(ClientCap(app.wsgi_app, limits, sessions)), settings.frame_ancestors)
    return app
