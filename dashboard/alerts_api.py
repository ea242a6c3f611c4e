"""The alerts API: rules and fired alerts (``alerts.service``).

- ``GET /api/alerts``: ``{"rules": [...], "access": ..., "access_note": ...}``: every rule
  (``{id, kind, pair, exchange, field, value, window_s, seconds, cooldown_s, hysteresis,
  severity, message, source, armed, last_fired}``), and whether this page may change them:
  ``access`` is ``open`` (the server listens on loopback), ``token`` (changes need
  ``Authorization: Bearer <ALERTS_TOKEN>``) or ``read-only`` (not loopback and no
  ``ALERTS_TOKEN`` set); ``access_note`` says so in words for the page.
- ``POST /api/alerts`` with a JSON rule ``{kind, pair, exchange?, value?, field?, window_s?,
  seconds?, cooldown_s?, hysteresis?, severity?, message?}``: 201 with the rule and its ``id``.
- ``DELETE /api/alerts/<id>``: 204; 404 for an unknown id; 409 for a rule of ``ALERTS_FILE``.
- ``GET /api/alerts/events?since=&limit=``: fired alerts ``{id, rule_id, kind, exchange, pair,
  message, value, time, severity}``, newest first, ``since`` (ISO-8601 or epoch ms, on the
  record's time) inclusive, ``limit`` 1 to 1000 (default 100).

Writes are refused (403) from another origin: a browser always sends ``Origin`` (or at least
``Referer``) with them, and it must name this host; a client that sends neither is no browser
page (curl, a script). A bad rule gets 400 with ``{"error": "<field>: <what is wrong>"}``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from alerts.rules import RuleError, parse_rule
from alerts.service import AlertRules, RuleLocked, RuleNotFound, TooManyRules

from .api import BadParameter, parse_time
from .settings import Settings

bp = Blueprint("alerts_api", __name__, url_prefix="/api/alerts")

MAX_BODY = 16 * 1024
DEFAULT_EVENTS = 100
MAX_EVENTS = 1000


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def service() -> AlertRules:
    """The dashboard's alert service; where this process evaluates no rule (a web node: its
    collectors do), the rules and history in the shared database."""
    dashboard = current_app.extensions["dashboard"]
    alerts = getattr(dashboard, "alerts", None)
    if alerts is None:
        alerts = current_app.extensions.get("alert_rules")
        if alerts is None:
            alerts = current_app.extensions["alert_rules"] = AlertRules(
                dashboard.store, dashboard.store_call)
    return alerts


def settings() -> Settings:
    return current_app.extensions["dashboard"].settings


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def access(config: Settings) -> tuple[str, str | None]:
    """(``open`` | ``token`` | ``read-only``, a note for the page)."""
    if is_loopback(config.host):
        return "open", None
    if config.alerts_token:
        return "token", (f"this server listens on {config.host}: changing rules needs its "
                         "ALERTS_TOKEN")
    return "read-only", (f"rules are read-only: this server listens on {config.host} and "
                         "ALERTS_TOKEN is not set")


def check_write() -> None:
    """Same origin, and the token where one is needed; raise ``Refused`` otherwise."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is not None:
        try:
            netloc = urlsplit(source).netloc.lower()
        except ValueError:
            netloc = ""
        if source == "null" or netloc != request.host.lower():
            raise Refused(403, f"origin: {source[:100]!r} is not this page's origin")
    config = settings()
    mode, note = access(config)
    if mode == "read-only":
        raise Refused(403, f"authorization: {note}")
    if mode == "token":
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expected = (config.alerts_token or "").encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                 expected):
            raise Refused(401, "authorization: send Authorization: Bearer <ALERTS_TOKEN>")


@bp.errorhandler(Refused)
def refused(exc: Refused) -> ResponseReturnValue:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    return jsonify(error=str(exc)), exc.status, headers


@bp.errorhandler(BadParameter)
def bad_parameter(exc: BadParameter) -> ResponseReturnValue:
    return jsonify(error=str(exc)), 400


@bp.errorhandler(SQLAlchemyError)
@bp.errorhandler(OSError)
def storage_down(exc: Exception) -> ResponseReturnValue:
    detail = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
    return jsonify(error=f"storage: unavailable ({detail})"), 503


@bp.get("")
def list_rules() -> ResponseReturnValue:
    mode, note = access(settings())
    return jsonify(rules=service().rules(), access=mode, access_note=note)


@bp.post("")
def add_rule() -> ResponseReturnValue:
    check_write()
    if (request.content_length or 0) > MAX_BODY:
        return jsonify(error=f"body: at most {MAX_BODY} bytes"), 400
    body = request.get_data(cache=False)[:MAX_BODY + 1]
    try:
        data: Any = json.loads(body or b"null", parse_float=Decimal)
    except ValueError as exc:
        return jsonify(error=f"body: not JSON ({exc})"), 400
    try:
        rule = parse_rule(data, settings().exchanges)
    except RuleError as exc:
        return jsonify(error=str(exc)), 400
    try:
        stored = service().add_rule(rule)
    except TooManyRules as exc:
        return jsonify(error=f"rules: {exc}"), 400
    answer = {**stored.to_json(), "armed": True, "last_fired": None}
    return jsonify(answer), 201, {"Location": f"{bp.url_prefix}/{stored.id}"}


@bp.delete("/<int:rule_id>")
def delete_rule(rule_id: int) -> ResponseReturnValue:
    check_write()
    try:
        service().delete_rule(rule_id)
    except RuleNotFound as exc:
        return jsonify(error=f"id: {exc}"), 404
    except RuleLocked as exc:
        return jsonify(error=f"id: {exc}"), 409
    return "", 204


@bp.get("/events")
def events() -> ResponseReturnValue:
    args = request.args
    since = parse_time("since", args["since"]) if args.get("since") else None
    limit = DEFAULT_EVENTS
    if args.get("limit"):
        text = args["limit"]
        if not text.isdigit() or not 1 <= int(text) <= MAX_EVENTS:
            raise BadParameter(f"limit: {text!r} is not a whole number from 1 to {MAX_EVENTS}")
        limit = int(text)
    return jsonify(service().events(since, limit))
