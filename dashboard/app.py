"""The application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_bootstrap import Bootstrap5

from . import api, routes
from .extensions import socketio
from .runtime import Dashboard
from .settings import Settings

# templates/ and static/ sit at the top of the repository, beside server.py
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(settings: Settings, async_mode: str | None = None) -> Flask:
    """Build the Flask app and bind Socket.IO to it; starts nothing and does no I/O.

    ``async_mode`` None lets Flask-SocketIO pick eventlet when it is installed; unit tests pass
    ``"threading"``.
    """
    app = Flask(__name__, root_path=str(PROJECT_ROOT))
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        BOOTSTRAP_SERVE_LOCAL=True,  # Bootstrap from the package, never from a CDN
    )
    Bootstrap5(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(api.bp)
    from . import events  # noqa: F401  (registers the Socket.IO handlers)

    socketio.init_app(
        app,
        async_mode=async_mode,
        # send the connect ack before our connect handler runs, so its snapshot follows it
        always_connect=True,
        # cors_allowed_origins left at its default: same origin only
    )
    app.extensions["dashboard"] = Dashboard(settings)
    return app
