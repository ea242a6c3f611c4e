"""Run the live crypto market dashboard: ``python server.py [--demo] [--host H] [--port P] ...``.

Settings come from the environment and a ``.env`` file in the working directory (see
``.env.example``); command-line flags override both. ``--demo`` starts the built-in simulated
exchanges on loopback and points the listeners at them, so the dashboard runs with no internet.

``python server.py snapshot ...`` and ``python server.py record ...`` are the command line
(``dashboard/cli.py``); they run without eventlet.
"""

import sys

if __name__ == "__main__" and sys.argv[1:2] not in (["snapshot"], ["record"]):
    # Must run before anything imports socket, ssl, threading or time: eventlet swaps in its
    # green versions, which is what lets websocket-client and Socket.IO share one event loop.
    # Eventlet warns on import that it is deprecated; the README says why we use it anyway.
    # The command-line subcommands use plain threads and skip it.
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()

import argparse
import dataclasses
import logging
import os
from collections.abc import Sequence

from dotenv import find_dotenv, load_dotenv

from dashboard import cli
from dashboard.app import create_app
from dashboard.demo import start_simulator
from dashboard.extensions import socketio
from dashboard.settings import Settings, SettingsError, split_list

log = logging.getLogger("server")

DEMO_DATABASE_URL = "sqlite:///data/demo.db"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="server.py", description="Live crypto market dashboard (Flask + Socket.IO).",
        epilog="Command line: 'server.py snapshot [--exchange E] [--format json|csv] SYMBOL...' "
               "prints tickers and recent trades; 'server.py record [SYMBOL...]' streams "
               "records as JSON lines. See 'server.py snapshot --help'.",
    )
    parser.add_argument("--host", help="address to listen on (HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (PORT, default 5000)")
    parser.add_argument("--exchanges", help="comma list (EXCHANGES, default bitfinex,coinbase)")
    parser.add_argument("--pairs", help="comma list (PAIRS, default BTC-USD,ETH-USD)")
    parser.add_argument("--feed-timeout", type=float,
                        help="seconds of silence before a feed is reconnected (FEED_TIMEOUT)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (LOG_LEVEL)")
    parser.add_argument("--demo", action="store_true",
                        help="stream from built-in simulated exchanges on loopback (no internet)")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace, env: dict[str, str]) -> Settings:
    """The environment's settings with the command-line flags applied on top."""
    settings = Settings.from_env(env)
    overrides: dict[str, object] = {
        "host": args.host,
        "port": args.port,
        "exchanges": args.exchanges and split_list(args.exchanges),
        "pairs": args.pairs and split_list(args.pairs),
        "feed_timeout": args.feed_timeout,
        "log_level": args.log_level and args.log_level.upper(),
        "demo": args.demo or None,
    }
    changes = {name: value for name, value in overrides.items() if value is not None}
    return dataclasses.replace(settings, **changes).validated()


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in cli.COMMANDS:
        load_dotenv(find_dotenv(usecwd=True))
        return cli.main(argv, dict(os.environ))
    args = parse_args(argv)
    load_dotenv(find_dotenv(usecwd=True))  # socketio.run under eventlet never loads .env itself
    try:
        settings = settings_from(args, dict(os.environ))
    except SettingsError as exc:
        print(f"server.py: bad setting: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.demo:
        simulator_url = start_simulator()
        demo_urls = {name: f"{simulator_url}/{name}" for name in settings.exchanges}
        demo_rest = {name: "http" + url.removeprefix("ws") for name, url in demo_urls.items()}
        # simulated prices must never seed a later live run: keep them in their own database
        database_url = settings.database_url
        if not os.environ.get("DATABASE_URL", "").strip():
            database_url = DEMO_DATABASE_URL
        settings = dataclasses.replace(settings, ws_urls={**demo_urls, **settings.ws_urls},
                                       rest_urls={**demo_rest, **settings.rest_urls},
                                       database_url=database_url)
        log.info("demo mode: simulated exchanges at %s", simulator_url)
    app = create_app(settings)
    app.extensions["dashboard"].start()
    log.info("dashboard on http://%s:%d", settings.host, settings.port)
    socketio.run(app, host=settings.host, port=settings.port, debug=False, use_reloader=False,
                 log_output=settings.log_level == "DEBUG")
    return 0


if __name__ == "__main__":
    sys.exit(main())
