"""ASYNC_MODE, ROLE and MESSAGE_QUEUE (issue 12), and how server.py picks the patch to apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.asyncmode import requested_async_mode
from dashboard.settings import Settings, SettingsError


def test_defaults_are_todays_single_process_on_eventlet():
    settings = Settings.from_env({})
    assert (settings.async_mode, settings.role, settings.message_queue) == (
        "eventlet", "all", None)
    assert settings.queue_channel == "dashboard"


def test_roles_and_queue_are_read_and_checked():
    settings = Settings.from_env({"ASYNC_MODE": "Gevent", "ROLE": "web",
                                  "MESSAGE_QUEUE": "redis://:secret@10.0.0.5:6379/0",
                                  "MESSAGE_QUEUE_CHANNEL": "wall-1", "COLLECTOR_ID": "c-a"})
    assert (settings.async_mode, settings.role, settings.queue_channel) == (
        "gevent", "web", "wall-1")
    assert "secret" not in repr(settings)
    for env, named in [({"ASYNC_MODE": "threading"}, "ASYNC_MODE"),
                       ({"ROLE": "both"}, "ROLE"),
                       ({"ROLE": "collector"}, "MESSAGE_QUEUE"),
                       ({"MESSAGE_QUEUE": "amqp://x"}, "MESSAGE_QUEUE"),
                       ({"MESSAGE_QUEUE_CHANNEL": "a b"}, "MESSAGE_QUEUE_CHANNEL")]:
        with pytest.raises(SettingsError) as error:
            Settings.from_env(env)
        assert str(error.value).startswith(named)
        assert "secret" not in str(error.value)


def test_the_patch_follows_flag_then_environment_then_dotenv(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert requested_async_mode([], {}) == "eventlet"
    (tmp_path / ".env").write_text("# settings\nexport ASYNC_MODE='gevent'  # the other one\n")
    nested = tmp_path / "deeper"
    nested.mkdir()
    monkeypatch.chdir(nested)
    assert requested_async_mode([], {}) == "gevent"
    assert requested_async_mode([], {"ASYNC_MODE": "eventlet"}) == "eventlet"
    assert requested_async_mode(["--async-mode", "eventlet"], {"ASYNC_MODE": "gevent"}) == (
        "eventlet")
    assert requested_async_mode(["--role", "web", "--async-mode=GEVENT"], {}) == "gevent"
