"""HTTP views: the page and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from .runtime import Dashboard

bp = Blueprint("dashboard", __name__)


def dashboard() -> Dashboard:
    return current_app.extensions["dashboard"]


@bp.get("/")
def index() -> ResponseReturnValue:
    """The dashboard page; its data arrives over Socket.IO (see ``dashboard.events``)."""
    settings = dashboard().settings
    return render_template("index.html", title="Crypto market", max_rows=settings.max_rows)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Every feed's state, last-message age and counters; 200 while the server runs."""
    return jsonify(dashboard().health())
