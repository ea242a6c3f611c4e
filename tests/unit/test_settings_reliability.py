"""MAX_CLIENTS, FRAME_ANCESTORS and LOG_FORMAT."""

from __future__ import annotations

import pytest

from dashboard.settings import Settings, SettingsError


def test_defaults():
    settings = Settings.from_env({})
    assert settings.max_clients is None  # derived from the open-files limit at start
    assert settings.frame_ancestors == ()
    assert settings.log_format == "text"


def test_values_are_read():
    settings = Settings.from_env({"MAX_CLIENTS": "250", "LOG_FORMAT": "JSON",
                                  "FRAME_ANCESTORS": "'self'  https://wall.example:8443"})
    assert settings.max_clients == 250
    assert settings.log_format == "json"
    assert settings.frame_ancestors == ("'self'", "https://wall.example:8443")
    assert Settings.from_env({"MAX_CLIENTS": " "}).max_clients is None
    assert Settings.from_env({"FRAME_ANCESTORS": "'none'"}).frame_ancestors == ("'none'",)
    assert Settings.from_env({"FRAME_ANCESTORS": "*.example.com http:"}).frame_ancestors == (
        "*.example.com", "http:")


@pytest.mark.parametrize(("env", "message"), [
    ({"MAX_CLIENTS": "0"}, "MAX_CLIENTS: 0 is outside 1..1e+06"),
    ({"MAX_CLIENTS": "many"}, "MAX_CLIENTS: 'many' is not a whole number"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT: 'xml' is not one of ('text', 'json')"),
    ({"FRAME_ANCESTORS": "'self'; script-src *"}, "FRAME_ANCESTORS: \"'self';\" is not a CSP"),
    ({"FRAME_ANCESTORS": "https://a.example,https://b.example"}, "FRAME_ANCESTORS: "),
    ({"FRAME_ANCESTORS": "'unsafe-inline'"}, "FRAME_ANCESTORS: \"'unsafe-inline'\""),
    ({"FRAME_ANCESTORS": "'none' 'self'"}, "FRAME_ANCESTORS: \"'none'\""),
])
def test_bad_values_are_named(env, message):
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(env)
    assert str(excinfo.value).startswith(message)
