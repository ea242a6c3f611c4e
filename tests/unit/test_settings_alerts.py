"""ALERTS_FILE, ALERT_URLS and ALERTS_TOKEN: read from the environment, checked at start-up."""

from __future__ import annotations

import pytest

from dashboard.settings import Settings, SettingsError

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


def test_alert_settings_are_read(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text('[[alert]]\nkind = "feed_down"\nexchange = "kraken"\n')
    settings = Settings.from_env({
        "ALERTS_FILE": str(path), "ALERTS_TOKEN": " t0ken ",
        "ALERT_URLS": "json://127.0.0.1:9/hook, ntfy://ntfy.sh/my-topic,"})
    assert settings.alerts_file == str(path)
    assert settings.alert_urls == ("json://127.0.0.1:9/hook", "ntfy://ntfy.sh/my-topic")
    assert settings.alerts_token == "t0ken"
    assert "t0ken" not in repr(settings) and "ntfy.sh" not in repr(settings)


def test_alert_settings_default_to_nothing():
    settings = Settings.from_env({})
    assert (settings.alerts_file, settings.alert_urls, settings.alerts_token) == (None, (), None)


@pytest.mark.parametrize(("env", "message"), [
    ({"ALERT_URLS": "carrier-pigeon://roof"}, "ALERT_URLS: 'carrier-pigeon://roof' is not"),
    ({"ALERTS_FILE": "/no/such/alerts.toml"}, "ALERTS_FILE: cannot read"),
])
def test_bad_alert_settings_stop_the_start(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_a_bad_rule_in_the_file_is_named(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text('[[alert]]\nkind = "crossed"\npair = "BTC-USD"\n\n'
                    '[[alert]]\nkind = "price_above"\npair = "BTC-USD"\nvalue = "a lot"\n')
    with pytest.raises(SettingsError, match="ALERTS_FILE: rule 2: value: 'a lot' is not a number"):
        Settings.from_env({"ALERTS_FILE": str(path)})
