"""Run the live crypto market dashboard: ``python server.py [--demo] [--host H] [--port P] ...``.

Settings come from the environment and a ``.env`` file in the working directory (see
``.env.example``); command-line flags override both. ``--demo`` starts the built-in simulated
exchanges on loopback and points the listeners at them, so the dashboard runs with no internet.

``python server.py snapshot ...`` and ``python server.py record ...`` are the command line
(``dashboard/cli.py``); they run without eventlet.

SIGTERM and SIGINT (Ctrl-C) stop it gracefully within ``STOP_LIMIT`` seconds, exit status 0:
new connections are refused, the listeners stop, storage writes what it holds, and the browsers'
connections are closed (``Dashboard.stop``). ``LOG_FORMAT=json`` logs one JSON object per line.
"""

import os
import sys

if __name__ == "__main__" and sys.argv[1:2] not in (["snapshot"], ["record"]):
    # Must run before anything imports socket, ssl, threading or time: eventlet (or gevent,
    # ASYNC_MODE=gevent) swaps in its green versions, which is what lets websocket-client and
    # Socket.IO share one event loop. Eventlet warns on import that it is deprecated; the
    # README says why it is still the default. The command-line subcommands use plain threads
    # and skip it.
    from dashboard.asyncmode import requested_async_mode

    PATCHED = requested_async_mode(sys.argv[1:], os.environ)
    if PATCHED == "gevent":
        from gevent import monkey

        monkey.patch_all()
    else:
        import warnings

        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet

        eventlet.monkey_patch()

import argparse
import dataclasses
import logging
import signal
import time
from collections.abc import Sequence

from dotenv import find_dotenv, load_dotenv

from dashboard import cli, concurrency
from dashboard.connections import raise_open_files_limit
from dashboard.demo import demo_settings, start_simulator
from dashboard.logs import setup_logging
from dashboard.roles import create_role_app
from dashboard.runtime import Dashboard
from dashboard.settings import Settings, SettingsError, split_list

log = logging.getLogger("server")

# seconds from SIGTERM/SIGINT to exit, whatever happens
STOP_LIMIT = 4.5


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
    parser.add_argument("--async-mode", choices=("eventlet", "gevent"),
                        help="what runs the green tasks (ASYNC_MODE, default eventlet)")
    parser.add_argument("--role", choices=("all", "collector", "web"),
                        help="all in one process, or a collector or web node over "
                             "MESSAGE_QUEUE (ROLE, default all)")
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
        "async_mode": args.async_mode,
        "role": args.role,
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
    setup_logging(settings.log_level, settings.log_format)
    patched = globals().get("PATCHED")
    if patched and patched != settings.async_mode:
        print(f"server.py: ASYNC_MODE {settings.async_mode!r} but {patched!r} was patched in: "
              "set it in the environment or with --async-mode", file=sys.stderr)
        return 2
    raise_open_files_limit()  # before create_app: MAX_CLIENTS's default follows the limit
    if settings.demo:
        # every listener the simulator serves points at it; simulated prices go to data/demo.db
        simulator = start_simulator(log_format=settings.log_format)
        settings = demo_settings(settings, simulator, os.environ)
        log.info("demo mode: simulated exchanges at %s (%s)", simulator.url,
                 ",".join(simulator.exchanges))
    app = create_role_app(settings)  # ROLE: all, collector or web
    dashboard = app.extensions["dashboard"]
    limits = app.extensions["client_limits"]
    dashboard.start()
    serving = concurrency.serve(app, settings.host, settings.port, limits,
                                log_output=settings.log_level == "DEBUG")
    log.info("dashboard on http://%s:%d max_clients=%d", settings.host, serving.address[1],
             limits.max_clients)
    return stop(dashboard, serving, concurrency.wait_for_signal())


def stop(dashboard: Dashboard, serving: concurrency.Serving, signum: int) -> int:
    """SIGTERM or SIGINT: refuse new connections, stop the listeners, write what storage holds,
    close the browsers' connections; exit 0 within ``STOP_LIMIT`` seconds.

    A stop that overruns (a database that hangs on the last write) is cut short by a watchdog
    with status 1, and says so in the log.
    """
    started = time.monotonic()
    log.info("stopping signal=%s", signal.Signals(signum).name)

    def overrun() -> None:
        concurrency.sleep(STOP_LIMIT)
        log.error("stop overran limit=%.1fs reason=exiting without waiting further",
                  STOP_LIMIT)
        logging.shutdown()
        os._exit(1)

    concurrency.spawn(overrun)
    serving.stop()
    flushed = dashboard.stop(timeout=STOP_LIMIT - 1.0)
    log.info("stopped after=%.2fs flushed=%s", time.monotonic() - started, flushed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
