"""``python -m simulator``: run the simulated exchanges until stopped.

Prints exactly one line of JSON to stdout once the port is bound,
``{"url": "ws://HOST:PORT", "exchanges": ["bitfinex", ...]}``, so a parent process
(``server.py --demo``, the test fixtures) can read where to connect and which exchanges it
serves; all logging goes to stderr. SIGTERM/SIGINT stop it cleanly with status 0, and with
``--exit-on-stdin-eof`` it also stops when its stdin closes, so a demo child never outlives a
parent that died without cleaning up; such a child leaves SIGINT (a terminal's Ctrl-C, sent to
the whole process group) to its parent and stops right after it.

``--fast`` turns it into a load generator (``simulator.fast``): pre-formatted frames at
``--total-rate`` frames a second in all, steered by JSON lines on stdin with
``--stdin-commands`` (the benchmarks' fake exchanges, ``bench.harness``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType

from simulator.fast import answer_commands
from simulator.peer import PeerOptions
from simulator.registry import EXCHANGES
from simulator.server import SimulatorConfig, SimulatorServer

log = logging.getLogger("simulator")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line; every option maps onto one ``SimulatorConfig`` field."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Simulated crypto exchanges' websockets and REST."
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--seed", type=int, default=None, help="seed for a reproducible market")
    parser.add_argument(
        "--rate",
        type=_rate,
        action="append",
        default=[],
        metavar="[EXCHANGE=]R",
        help="random trades per second per subscribed pair; 0 = only injected trades (default "
        "2). EXCHANGE=R sets one exchange's rate instead; repeat the option for several",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=_positive,
        default=15.0,
        help='Bitfinex: idle seconds before a channel gets [chanId,"hb"] (default 15, as real)',
    )
    parser.add_argument(
        "--subscribe-timeout",
        type=_positive,
        default=5.0,
        help="Coinbase: seconds a client has to subscribe before it is disconnected (default 5)",
    )
    parser.add_argument(
        "--protocol-ping-interval",
        type=_positive,
        default=None,
        metavar="SECONDS",
        help="exchanges that send protocol (RFC 6455) ping frames, Binance and Binance.US: "
        "seconds between two pings on a connection (default: each venue's own, 20 and 180, "
        "as real)",
    )
    parser.add_argument(
        "--pong-timeout",
        type=_positive,
        default=None,
        metavar="SECONDS",
        help="the same exchanges: seconds a ping may wait for the pong echoing its payload "
        "before the connection is closed with 1008 (default: each venue's own, 60 and 600, "
        "as real)",
    )
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="exit when stdin reaches end of file"
    )
    parser.add_argument(
        "--exchanges",
        type=_exchanges,
        default=list(EXCHANGES),
        metavar="NAME,...",
        help=f"the exchanges to serve (default: all of {','.join(EXCHANGES)})",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="fast mode (simulator/fast.py): stream pre-formatted frames at --total-rate; the "
        "random trades of --rate are then off unless --rate is given",
    )
    parser.add_argument(
        "--total-rate",
        type=_total_rate,
        default=0.0,
        metavar="N|max",
        help="fast mode: frames per second for the whole process, spread over every subscribed "
        "pair of every exchange; max: as fast as clients read (default 0: none until asked)",
    )
    parser.add_argument(
        "--stdin-commands",
        action="store_true",
        help='fast mode: answer JSON lines on stdin ({"cmd": "rate", "value": N|"max"}, '
        '{"cmd": "stats"}) with one JSON line each on stdout; exit when stdin ends',
    )
    parser.add_argument("--log-level", default="INFO", help="stderr log level (default INFO)")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="stderr lines as text, or one JSON object each as the dashboard's LOG_FORMAT=json "
        "writes them (--demo passes its own)",
    )
    args = parser.parse_args(argv)
    if not args.fast and (args.stdin_commands or args.total_rate):
        parser.error("--total-rate and --stdin-commands need --fast")
    if args.stdin_commands and args.exit_on_stdin_eof:
        parser.error("--stdin-commands already exits when stdin ends: drop --exit-on-stdin-eof")
    return args


class JsonLines(logging.Formatter):
    """One JSON object per record, with the keys a log collector reads from the dashboard's
    own JSON lines: ``time`` (UTC, ``Z``), ``level``, ``logger``, ``message``."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        entry = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    """Run until a signal or stdin EOF; returns the exit status."""
    args = parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLines()
        if args.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    logging.getLogger("websockets").setLevel(logging.WARNING)  # one line per HTTP request
    rates = dict(args.rate)
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        rate=rates.pop(None, 0.0 if args.fast else 2.0),
        rates=rates,
        options=PeerOptions(
            heartbeat_interval=args.heartbeat_interval,
            subscribe_timeout=args.subscribe_timeout,
            protocol_ping_interval=args.protocol_ping_interval,
            pong_timeout=args.pong_timeout,
        ),
        fast=args.fast,
        total_rate=args.total_rate,
    )
    server = SimulatorServer(config, {name: EXCHANGES[name] for name in args.exchanges})
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    if args.exit_on_stdin_eof:
        # a child of ``server.py --demo``: a terminal's Ctrl-C reaches the whole process group,
        # and the parent stops first (its feeds would otherwise see us vanish mid-stop); we stop
        # when it is gone and our stdin ends, or on its SIGTERM
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_wait_for_eof, args=(stop,), name="stdin", daemon=True).start()
    else:
        signal.signal(signal.SIGINT, on_signal)

    server.start()
    sys.stdout.write(json.dumps({"url": server.url, "exchanges": list(server.engines)}) + "\n")
    sys.stdout.flush()
    if args.stdin_commands:
        assert server.fast is not None
        threading.Thread(target=answer_commands, args=(server.fast, stop, sys.stdin, _write),
                         name="commands", daemon=True).start()
    while not stop.wait(0.5):
        pass
    log.info("simulator stopping")
    server.stop()
    return 0


def _wait_for_eof(stop: threading.Event) -> None:
    """Read and discard stdin; its end means the parent is gone.

    Reads the file descriptor itself, not ``sys.stdin``: a daemon thread blocked inside
    ``sys.stdin.buffer`` holds that object's lock, and the interpreter's shutdown, which flushes
    and closes ``sys.stdin``, then dies with "Fatal Python error: _enter_buffered_busy".
    """
    fd = sys.stdin.fileno()
    while True:
        try:
            if not os.read(fd, 4096):
                break
        except InterruptedError:
            continue
        except OSError:  # stdin closed or unreadable: no parent to wait for
            break
    stop.set()


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _exchanges(text: str) -> list[str]:
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in EXCHANGES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"no simulated exchange {unknown[0]!r}" if unknown else "name at least one exchange")
    return list(dict.fromkeys(names))


def _total_rate(text: str) -> float:
    return float("inf") if text == "max" else _non_negative(text)


def _non_negative(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text!r}")
    return value


def _rate(text: str) -> tuple[str | None, float]:
    """``R`` -> ``(None, R)``, the default rate; ``NAME=R`` -> ``(NAME, R)``, one exchange's."""
    name, _, value = text.rpartition("=")
    try:
        return (name.strip().lower() or None), _non_negative(value)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"must be R or EXCHANGE=R with a number R >= 0, not {text!r}"
        ) from None


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, not {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
