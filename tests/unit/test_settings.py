import pytest

from dashboard.settings import Settings, SettingsError


def test_defaults_are_safe():
    settings = Settings.from_env({})
    assert settings.host == "127.0.0.1"
    assert settings.port == 5000
    assert settings.exchanges == ("bitfinex", "coinbase")
    assert settings.pairs is None  # each exchange's own default
    assert settings.pairs_for("bitfinex") == ("BTC-USD", "ETH-USD")
    assert settings.feed_timeout == 30.0
    assert len(settings.secret_key) >= 32
    assert Settings.from_env({}).secret_key != settings.secret_key  # random, never a literal


def test_values_are_read_from_the_environment():
    settings = Settings.from_env({
        "HOST": "0.0.0.0", "PORT": "8080", "EXCHANGES": "coinbase", "PAIRS": "btcusd, ETH/EUR ,",
        "SECRET_KEY": "s3cret", "LOG_LEVEL": "debug", "FEED_TIMEOUT": "2.5",
        "COINBASE_WS_URL": "ws://127.0.0.1:9/coinbase", "CLIENT_QUEUE_LIMIT": "250",
    })
    assert (settings.host, settings.port, settings.exchanges) == ("0.0.0.0", 8080, ("coinbase",))
    assert settings.pairs == ("btcusd", "ETH/EUR")
    assert settings.secret_key == "s3cret"
    assert (settings.log_level, settings.feed_timeout) == ("DEBUG", 2.5)
    assert settings.ws_urls == {"coinbase": "ws://127.0.0.1:9/coinbase"}
    assert settings.client_queue_limit == 250


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "http"}, "PORT: 'http' is not a whole number"),
        ({"PORT": "70000"}, "PORT: 70000 is outside 0..65535"),
        ({"EXCHANGES": "bitfinex,mtgox"}, "EXCHANGES: unknown exchange 'mtgox'"),
        ({"EXCHANGES": " , "}, "EXCHANGES: name at least one exchange"),
        ({"FEED_TIMEOUT": "0"}, "FEED_TIMEOUT: 0 is outside 1..3600"),
        ({"CLIENT_QUEUE_LIMIT": "1"}, "CLIENT_QUEUE_LIMIT: 1 is outside 3..100000"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL: 'LOUD' is not one of"),
        ({"BITFINEX_WS_URL": "http://x"}, "BITFINEX_WS_URL: 'http://x' is not a ws://"),
        ({"COINBASE_REST_URL": "ws://x"}, "COINBASE_REST_URL: 'ws://x' is not an http://"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(env)
    assert str(excinfo.value).startswith(message)


def test_rest_urls_are_read_like_ws_urls():
    settings = Settings.from_env({
        "BITFINEX_REST_URL": " http://127.0.0.1:9/bitfinex ", "COINBASE_REST_URL": "",
        "NOSUCHEXCHANGE_REST_URL": "http://ignored",
    })
    assert settings.rest_urls == {"bitfinex": "http://127.0.0.1:9/bitfinex"}
    assert Settings.from_env({}).rest_urls == {}


def test_an_exchange_may_have_pairs_of_its_own():
    settings = Settings.from_env({"PAIRS": "SOL-USD,BTC-USD", "COINBASE_PAIRS": "ETH-EUR"})
    assert settings.pairs_for("coinbase") == ("ETH-EUR",)
    assert settings.pairs_for("bitfinex") == ("SOL-USD", "BTC-USD")  # the order given


def test_an_empty_exchange_pair_list_is_refused():
    with pytest.raises(SettingsError, match="BITFINEX_PAIRS"):
        Settings.from_env({"BITFINEX_PAIRS": " , "})
