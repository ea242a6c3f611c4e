"""Security headers on every response, and the Socket.IO input limits, through the real app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboard.app import MAX_CLIENT_MESSAGE, create_app
from dashboard.security import SecureHeaders, frame_ancestors_value
from dashboard.settings import Settings

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "font-src 'self'; connect-src 'self' ws://localhost wss://localhost; "
          "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@pytest.fixture
def make_client(tmp_path: Path):
    def make(**settings: object):
        app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/t.db", **settings),
                         async_mode="threading")
        return app.test_client()
    return make


@pytest.mark.parametrize(("path", "status"), [
    ("/", 200),
    ("/healthz", 200),
    ("/static/js/dashboard.js", 200),
    ("/static/vendor/socket.io.min.js", 200),
    ("/bootstrap/static/css/bootstrap.min.css", 200),
    ("/api/pairs", 200),
    ("/api/trades?limit=nope", 400),
    ("/no/such/page", 404),
    ("/socket.io/?EIO=3&transport=polling", 400),  # Engine.IO's own error answer
])
def test_every_response_carries_the_headers(make_client, path, status):
    response = make_client().get(path)
    assert response.status_code == status
    assert response.headers["Content-Security-Policy"] == POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_page_needs_nothing_the_policy_forbids(make_client):
    page = make_client().get("/").get_data(as_text=True)
    # a JSON data block is never run, so the policy has no say over it; any other inline
    # script would be refused
    assert not re.search(r"<script(?![^>]*\s(?:src=|type=\"application/json\"))", page), (
        "an inline script")
    assert "<style" not in page and not re.search(r"\sstyle\s*=", page), "an inline style"
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", page), "an inline event handler"
    assert "javascript:" not in page
    assert "http://" not in page and "https://" not in page


@pytest.mark.parametrize(("ancestors", "directive", "frame_options"), [
    ((), "frame-ancestors 'none'", "DENY"),
    (("'none'",), "frame-ancestors 'none'", "DENY"),
    (("'self'",), "frame-ancestors 'self'", "SAMEORIGIN"),
    (("'self'", "https://wall.example"), "frame-ancestors 'self' https://wall.example", None),
])
def test_framing_follows_frame_ancestors(make_client, ancestors, directive, frame_options):
    response = make_client(frame_ancestors=ancestors).get("/")
    assert response.headers["Content-Security-Policy"].endswith(directive)
    assert response.headers.get("X-Frame-Options") == frame_options


def test_a_host_header_is_repeated_only_when_it_is_a_host():
    headers = SecureHeaders(lambda environ, start: [], ())
    assert "ws://127.0.0.1:5000 wss://127.0.0.1:5000;" in headers.policy("127.0.0.1:5000")
    assert "ws://[::1]:8000 " in headers.policy("[::1]:8000")
    for hostile in ("evil.example; script-src *", "a b", "x\r\nSet-Cookie: y", ""):
        assert "connect-src 'self'; " in headers.policy(hostile)


def test_a_header_the_app_set_is_kept():
    def app(environ, start_response):
        start_response("200 OK", [("X-Frame-Options", "SAMEORIGIN")])
        return [b""]

    seen = {}
    SecureHeaders(app)({"HTTP_HOST": "h"}, lambda status, headers, exc=None: seen.update(
        {"headers": headers}))
    names = [name for name, _ in seen["headers"]]
    assert names.count("X-Frame-Options") == 1
    assert ("X-Frame-Options", "SAMEORIGIN") in seen["headers"]


def test_frame_ancestors_value():
    assert frame_ancestors_value(()) == "'none'"
    assert frame_ancestors_value(("none",)) == "'none'"
    assert frame_ancestors_value(("https://a.example", "'self'")) == "https://a.example 'self'"


def test_a_browser_message_is_size_limited(make_client):
    from dashboard.extensions import socketio

    make_client()
    assert socketio.server.eio.max_http_buffer_size == MAX_CLIENT_MESSAGE <= 8192
