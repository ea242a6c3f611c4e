import pytest

from exchanges.pairs import PairError, parse_pair


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("BTC-USD", "BTC-USD"),
        ("btc-usd", "BTC-USD"),
        ("BTC/USD", "BTC-USD"),
        ("eth_eur", "ETH-EUR"),
        ("btcusd", "BTC-USD"),
        ("BTCUSDT", "BTC-USDT"),
        ("ethbtc", "ETH-BTC"),
        ("tBTCUSD", "BTC-USD"),
        ("tDOGE:USD", "DOGE-USD"),
        ("  sol-usd ", "SOL-USD"),
    ],
)
def test_accepted_spellings_become_canonical(text, pair):
    assert parse_pair(text) == pair


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty pair"),
        ("BTC", "cannot tell base from quote in 'BTC'"),
        ("foobar", "cannot tell base from quote in 'foobar'"),
        ("BTC-USD-EUR", "cannot read 'BTC-USD-EUR' as a pair"),
        ("<img src=x>", "cannot read '<img src=x>' as a pair"),
        ("BTC-BTC", "base and quote are both BTC"),
        ("B-USD", "'B' is not a currency code"),
    ],
)
def test_unreadable_pairs_say_why(text, reason):
    with pytest.raises(PairError, match="^.*" + __import__("re").escape(reason)):
        parse_pair(text)


def test_a_three_letter_base_wins_over_a_longer_quote():
    assert parse_pair("XBTUSD") == "XBT-USD"  # Kraken's altname, not XB-TUSD
    assert parse_pair("BTCTUSD") == "BTC-TUSD"
    assert parse_pair("OPUSDT") == "OP-USDT"
