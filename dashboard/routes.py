"""HTTP views: the page and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from .runtime import Dashboard

bp = Blueprint("dashboard", __name__)


def dashboard() -> Dashboard:
    return current_app.extensions["dashboard"]


@bp.get("/")
def index() -> ResponseReturnValue:
    """The dashboard page; its data arrives over Socket.IO (see ``dashboard.events``).

    The page is given the feeds configured now (the ``/api/pairs`` list, again with every
    connect), so it draws the board at once and never takes a stored pair for a feed. The
    theme and wall mode of the URL (``?theme=light&wall=1``) are set here too, so the page
    never flashes the other theme while its script loads.
    """
    settings = dashboard().settings
    config = {"feeds": dashboard().feeds(), "feedTimeout": settings.feed_timeout}
    theme = "light" if request.args.get("theme") == "light" else "dark"
    wall = request.args.get("wall", "").lower() in ("1", "true", "yes", "on")
    return render_template("index.html", title="Crypto market", max_rows=settings.max_rows,
                           config=config, theme=theme, wall=wall)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Every feed's state, last-message age and counters; 200 while the server runs.

    ``clients`` also holds what the connection guards counted (``dashboard.connections``):
    ``max_clients``, ``open_files``, ``refused``, ``ignored_events``, ``invalid_auth``,
    ``accept_failures`` and ``accept_incidents``.
    """
    health = dashboard().health()
    limits = current_app.extensions.get("client_limits")
    if limits is not None:
        health.setdefault("clients", {}).update(limits.stats())
    return jsonify(health)
