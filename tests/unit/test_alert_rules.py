"""Reading alert rules: every field checked, named in the error, decimals kept exact; the TOML
seed file."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alerts.rules import Kind, RuleError, parse_rule
from alerts.seed import AlertsFileError, load_rules

EXCHANGES = ("bitfinex", "coinbase")


def test_a_price_rule_with_defaults():
    rule = parse_rule({"kind": "price_above", "pair": "btcusd", "value": "45000"}, EXCHANGES)
    assert (rule.kind, rule.pair, rule.exchange, rule.field, rule.value) == (
        Kind.PRICE_ABOVE, "BTC-USD", None, "last", Decimal("45000"))
    assert (rule.cooldown_s, rule.severity, rule.margin) == (60.0, "info", Decimal("45.000"))


def test_numbers_stay_exact_whatever_their_type():
    for value in ("0.1", Decimal("0.1"), 0.1):
        assert parse_rule({"kind": "price_below", "pair": "ETH-USD", "value": value}
                          ).value == Decimal("0.1")
    assert parse_rule({"kind": "price_below", "pair": "ETH-USD", "value": "45_000.50"}
                      ).value == Decimal("45000.50")


@pytest.mark.parametrize(("data", "field"), [
    ({}, "kind"),
    ({"kind": "price_sideways", "pair": "BTC-USD"}, "kind"),
    ({"kind": "price_above", "value": "1"}, "pair"),
    ({"kind": "price_above", "pair": "BTC", "value": "1"}, "pair"),
    ({"kind": "price_above", "pair": "BTC-USD"}, "value"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "lots"}, "value"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "NaN"}, "value"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "-5"}, "value"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": True}, "value"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "1", "field": "mid"}, "field"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "1", "exchange": "mtgox"}, "exchange"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "1", "window_s": 5}, "window_s"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "1", "cooldown_s": -1}, "cooldown_s"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "1", "windows": 5}, "windows"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "1", "message": "x" * 201}, "message"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "1", "message": "a\x07"}, "message"),
    ({"kind": "price_above", "pair": "BTC-USD", "value": "1", "severity": "loud"}, "severity"),
    ({"kind": "move_pct", "pair": "BTC-USD", "value": "0"}, "value"),
    ({"kind": "move_pct", "pair": "BTC-USD", "value": "2", "window_s": 0}, "window_s"),
    ({"kind": "move_pct", "pair": "BTC-USD", "value": "2", "hysteresis": "2"}, "hysteresis"),
    ({"kind": "spread_above", "pair": "BTC-USD", "value": "5", "exchange": "coinbase"},
     "exchange"),
    ({"kind": "crossed", "pair": "BTC-USD", "value": "5"}, "value"),
    ({"kind": "feed_down", "seconds": 0}, "seconds"),
    ({"kind": "feed_down", "seconds": "soon"}, "seconds"),
    ({"kind": "feed_down", "hysteresis": "1"}, "hysteresis"),
    (["price_above"], "rule"),
])
def test_a_bad_rule_names_its_field(data, field):
    with pytest.raises(RuleError) as caught:
        parse_rule(data, EXCHANGES)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_each_kind_reads_its_own_fields():
    move = parse_rule({"kind": "move_pct", "pair": "ETH-USD", "value": 2, "window_s": 300,
                       "exchange": "Coinbase"}, EXCHANGES)
    assert (move.window_s, move.exchange, move.margin, move.severity) == (
        300.0, "coinbase", Decimal("0.4"), "warning")
    down = parse_rule({"kind": "feed_down"}, EXCHANGES)
    assert (down.pair, down.exchange, down.seconds, down.severity) == (None, None, 60.0,
                                                                      "critical")
    crossed = parse_rule({"kind": "crossed", "pair": "BTC-USDT", "hysteresis": "0.5"})
    assert (crossed.pair, crossed.margin) == ("BTC-USDT", Decimal("0.5"))
    spread = parse_rule({"kind": "spread_above", "pair": "BTC-USD", "value": "10",
                         "exchange": "", "message": "  wide\n spread "})
    assert (spread.exchange, spread.margin, spread.message) == (None, Decimal("2.0"),
                                                                "wide spread")


def test_the_same_rule_has_the_same_key_and_its_json_has_every_field():
    one = parse_rule({"kind": "price_above", "pair": "BTC-USD", "value": "45000"})
    two = parse_rule({"kind": "price_above", "pair": "btc/usd", "value": 45000, "field": "last"})
    assert one.key() == two.key()
    assert one.key() != parse_rule({"kind": "price_above", "pair": "BTC-USD", "value": "45001"}
                                   ).key()
    assert one.with_id(3).to_json() == {
        "id": 3, "kind": "price_above", "pair": "BTC-USD", "exchange": None, "field": "last",
        "value": "45000", "window_s": None, "seconds": None, "cooldown_s": 60.0,
        "hysteresis": None, "severity": "info", "message": None, "source": "api"}


def test_the_seed_file_reads_toml_floats_exactly(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text('[[alert]]\nkind = "price_above"\npair = "BTC-USD"\nvalue = 45000.10\n\n'
                    '[[alert]]\nkind = "feed_down"\nexchange = "kraken"\nseconds = 120\n')
    first, second = load_rules(path, ("bitfinex", "coinbase", "kraken"))
    assert (first.value, first.source) == (Decimal("45000.10"), "file")
    assert (second.exchange, second.seconds) == ("kraken", 120.0)


@pytest.mark.parametrize(("text", "message"), [
    ('[[alert]]\nkind = "price_above"\npair = "BTC-USD"\n', "rule 1: value: required"),
    ('[[alert]]\nkind = "feed_down"\n[[alert]]\nkind = "x"\n', "rule 2: kind: 'x' is not"),
    ('[rules]\nkind = "feed_down"\n', "'rules': unknown table"),
    ("kind = ", "is not valid TOML"),
])
def test_a_bad_seed_file_says_where(tmp_path, text, message):
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    with pytest.raises(AlertsFileError, match=message):
        load_rules(path, ("coinbase",))


def test_a_missing_seed_file_is_named(tmp_path):
    with pytest.raises(AlertsFileError, match="cannot read"):
        load_rules(tmp_path / "nope.toml")
