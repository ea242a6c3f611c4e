"""The alerts HTTP API through the real app: rules in and out, 400s naming the field, the
same-origin rule, and the token on a bind that is not loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.alerts_api import is_loopback
from dashboard.app import create_app
from dashboard.settings import Settings

SAME = {"Origin": "http://localhost"}


@pytest.fixture
def make_client(tmp_path: Path):
    def make(**settings: object):
        app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/t.db", **settings),
                         async_mode="threading")
        return app.test_client()
    return make


@pytest.fixture
def client(make_client):
    return make_client()


def test_add_list_and_delete_a_rule(client):
    answer = client.post("/api/alerts", json={"kind": "price_above", "pair": "btc-usd",
                                              "value": "45000"}, headers=SAME)
    assert answer.status_code == 201
    rule = answer.json
    assert answer.headers["Location"] == f"/api/alerts/{rule['id']}"
    assert (rule["pair"], rule["value"], rule["exchange"], rule["armed"]) == (
        "BTC-USD", "45000", None, True)
    listed = client.get("/api/alerts").json
    assert listed["access"] == "open" and listed["access_note"] is None
    assert [r["id"] for r in listed["rules"]] == [rule["id"]]
    assert client.delete(f"/api/alerts/{rule['id']}", headers=SAME).status_code == 204
    assert client.get("/api/alerts").json["rules"] == []
    missing = client.delete(f"/api/alerts/{rule['id']}")
    assert missing.status_code == 404 and missing.json["error"].startswith("id: ")


def test_a_json_number_stays_exact(client):
    answer = client.post("/api/alerts", data='{"kind": "price_below", "pair": "ETH-USD", '
                         '"value": 2000.10}', content_type="application/json")
    assert answer.status_code == 201 and answer.json["value"] == "2000.10"


@pytest.mark.parametrize(("body", "field"), [
    ('{"pair": "BTC-USD", "value": "1"}', "kind"),
    ('{"kind": "price_above", "value": "1"}', "pair"),
    ('{"kind": "price_above", "pair": "BTC-USD"}', "value"),
    ('{"kind": "price_above", "pair": "BTC-USD", "value": "x"}', "value"),
    ('{"kind": "price_above", "pair": "BTC-USD", "value": "1", "exchange": "kraken"}',
     "exchange"),
    ('{"kind": "move_pct", "pair": "BTC-USD", "value": "1", "window_s": -1}', "window_s"),
    ('{"kind": "feed_down", "seconds": 1e9}', "seconds"),
    ('{"kind": "price_above", "pair": "BTC-USD", "value": "1", "cooldown_s": "x"}',
     "cooldown_s"),
    ('{"kind": "price_above", "pair": "BTC-USD", "value": "1", "colour": "red"}', "colour"),
    ('{"kind": "crossed", "pair": "BTC-USD", "message": 5}', "message"),
    ('[1, 2]', "rule"),
    ("{not json", "body"),
    ("", "rule"),
])
def test_a_bad_rule_gets_400_naming_the_field(client, body, field):
    answer = client.post("/api/alerts", data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json["error"].startswith(f"{field}: "), answer.json


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://localhost.evil.example"},
    {"Referer": "http://evil.example/page"},
])
def test_writes_from_another_origin_are_refused(client, headers):
    made = client.post("/api/alerts", json={"kind": "crossed", "pair": "BTC-USD"})
    assert made.status_code == 201  # no Origin and no Referer: not a browser page
    answer = client.post("/api/alerts", json={"kind": "crossed", "pair": "BTC-USD"},
                         headers=headers)
    assert answer.status_code == 403 and answer.json["error"].startswith("origin: ")
    answer = client.delete(f"/api/alerts/{made.json['id']}", headers=headers)
    assert answer.status_code == 403
    assert client.post("/api/alerts", json={"kind": "crossed", "pair": "BTC-USD"},
                       headers={"Referer": "http://localhost/"}).status_code == 201


def test_not_loopback_without_a_token_is_read_only(make_client):
    client = make_client(host="0.0.0.0")
    listed = client.get("/api/alerts").json
    assert listed["access"] == "read-only"
    assert "ALERTS_TOKEN" in listed["access_note"]
    answer = client.post("/api/alerts", json={"kind": "crossed", "pair": "BTC-USD"},
                         headers=SAME)
    assert answer.status_code == 403 and answer.json["error"].startswith("authorization: ")


def test_not_loopback_with_a_token_needs_it(make_client):
    client = make_client(host="192.0.2.10", alerts_token="s3cret")
    assert client.get("/api/alerts").json["access"] == "token"
    rule = {"kind": "crossed", "pair": "BTC-USD"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic s3cret"}):
        answer = client.post("/api/alerts", json=rule, headers={**SAME, **headers})
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
    answer = client.post("/api/alerts", json=rule,
                         headers={**SAME, "Authorization": "Bearer s3cret"})
    assert answer.status_code == 201
    assert client.delete(f"/api/alerts/{answer.json['id']}").status_code == 401
    assert client.delete(f"/api/alerts/{answer.json['id']}",
                         headers={"Authorization": "Bearer s3cret"}).status_code == 204


def test_loopback_addresses():
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host)
    for host in ("0.0.0.0", "::", "192.168.1.5", "dashboard.example"):
        assert not is_loopback(host)


def test_events_parameters_are_checked(client):
    assert client.get("/api/alerts/events").json == []
    for query, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("since=soon", "since")):
        answer = client.get(f"/api/alerts/events?{query}")
        assert answer.status_code == 400 and answer.json["error"].startswith(f"{field}: ")
    assert client.get("/api/alerts/events?since=2026-01-01T00:00:00Z&limit=5").status_code == 200


def test_a_rule_of_the_seed_file_cannot_be_deleted(make_client, tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text('[[alert]]\nkind = "crossed"\npair = "BTC-USD"\n')
    client = make_client(alerts_file=str(path))
    dashboard = client.application.extensions["dashboard"]
    dashboard.alerts.load()
    [rule] = client.get("/api/alerts").json["rules"]
    assert rule["source"] == "file"
    answer = client.delete(f"/api/alerts/{rule['id']}")
    assert answer.status_code == 409 and "ALERTS_FILE" in answer.json["error"]


def test_where_no_rule_is_evaluated_the_api_works_on_the_database(make_client):
    client = make_client()
    client.application.extensions["dashboard"].alerts = None  # a web node: collectors evaluate
    answer = client.post("/api/alerts", json={"kind": "crossed", "pair": "BTC-USD"})
    assert answer.status_code == 201
    assert [r["id"] for r in client.get("/api/alerts").json["rules"]] == [answer.json["id"]]
    assert client.get("/api/alerts/events").json == []
    assert client.delete(f"/api/alerts/{answer.json['id']}").status_code == 204
