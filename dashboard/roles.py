"""Which parts of the dashboard this process runs: ``ROLE`` (``--role``).

- ``all`` (default): listeners, hub, storage, alerts and the page in one process, no queue
  (``dashboard.app.create_app`` with ``dashboard.runtime.Dashboard``).
- ``collector``: listeners, hub, alerts and storage; publishes to ``MESSAGE_QUEUE`` through a
  write-only Flask-SocketIO and keeps the current picture in Redis; serves ``/healthz`` only
  (``dashboard.collector``).
- ``web``: the page, the API and the browsers; relays what the collectors publish
  (``dashboard.webnode``); runs under ``python server.py`` or gunicorn (``dashboard.wsgi``).

Each returns a Flask app whose ``extensions["dashboard"]`` has ``start()``, ``stop(timeout)``
and ``health()``, and whose ``extensions["client_limits"]`` is the browsers' cap: what
``server.py`` runs, whatever the role.
"""

from __future__ import annotations

from flask import Flask

from .app import create_app
from .settings import Settings


def create_role_app(settings: Settings) -> Flask:
    """The app of ``settings.role``; starts nothing and does no I/O."""
    if settings.role == "collector":
        from .collector import create_collector_app

        return create_collector_app(settings)
    if settings.role == "web":
        from .webnode import create_web_app

        return create_web_app(settings)
    return create_app(settings)
