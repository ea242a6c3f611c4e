"""The command line besides the dashboard: ``python server.py snapshot|record ...``.

``snapshot`` takes one REST ticker and the recent trades of each symbol and prints them (the
first program this project grew from, done with the listeners' own code); ``record`` streams the
listeners' normalized records as JSON lines, without the web page. Both use the same exchange
classes, settings (``<NAME>_REST_URL``, ``<NAME>_WS_URL``, ``.env``) and parsers as the dashboard.

No eventlet here: ``server.py`` skips its monkey patch for these commands, so the listeners run
on ordinary threads with blocking sockets, and a signal simply sets an event.

Exit status of ``snapshot``: 0 when every symbol was printed; 2 when a symbol is malformed or the
exchange refuses it (named on stderr, the others still printed); 1 when a download still failed
after retrying within ``--timeout`` (also named on stderr; whatever was fetched is printed).
``record`` exits 0 on SIGINT or SIGTERM. Bad arguments or settings exit 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any, TextIO

from exchanges import LISTENERS
from exchanges.base import TRADES_LIMIT, SnapshotIncomplete
from exchanges.pairs import PairError, parse_pair
from exchanges.records import Record, Status, Ticker, Trade, format_decimal, format_time

from .listeners import build_listeners
from .settings import LOG_LEVELS, Settings, SettingsError, split_list

log = logging.getLogger(__name__)

COMMANDS = ("snapshot", "record")
PROG = "server.py"

# The snapshot's output fields, as the original program printed them.
TICKER_FIELDS = ("exchange", "symbol", "pair", "datetime", "price", "volume", "bid", "ask")
TRADE_FIELDS = ("exchange", "symbol", "pair", "datetime", "price", "volume", "is_buy")
# CSV: one table, a ``record`` column saying which kind each row is
CSV_FIELDS = ("record", "exchange", "symbol", "pair", "datetime", "price", "volume", "bid", "ask",
              "is_buy")

EXIT_OK, EXIT_DOWNLOAD_FAILED, EXIT_BAD_SYMBOL = 0, 1, 2


def main(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run one subcommand; ``argv`` starts with its name. Returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        print(f"{PROG} {args.command}: bad setting: {exc}", file=sys.stderr)
        return EXIT_BAD_SYMBOL
    exchanges = split_list(args.exchange) if args.exchange is not None else None
    unknown = [name for name in exchanges or () if name not in LISTENERS]
    if unknown or exchanges == ():
        known = ", ".join(sorted(LISTENERS))
        print(f"{PROG} {args.command}: --exchange: unknown exchange {', '.join(unknown)!r} "
              f"(known: {known})", file=sys.stderr)
        return EXIT_BAD_SYMBOL
    level = (args.log_level or settings.log_level).upper()
    if level not in LOG_LEVELS:
        print(f"{PROG} {args.command}: --log-level: {level!r} is not one of {LOG_LEVELS}",
              file=sys.stderr)
        return EXIT_BAD_SYMBOL
    logging.basicConfig(stream=sys.stderr, level=level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "snapshot":
        return snapshot(args.symbols, exchanges or ("bitfinex",), settings,
                        output=args.format, timeout=args.timeout, trades_limit=args.trades)
    return record(args.symbols or None, exchanges or settings.exchanges, settings)


# snapshot ------------------------------------------------------------------------------------


def snapshot(symbols: Sequence[str], exchanges: Sequence[str], settings: Settings, *,
             output: str = "json", timeout: float = 10.0, trades_limit: int = TRADES_LIMIT,
             out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print each symbol's REST ticker and recent trades on each exchange; see the module doc.

    Downloads are retried with backoff until ``timeout`` seconds after the start, in all.
    """
    out, err = out or sys.stdout, err or sys.stderr
    deadline = time.monotonic() + timeout
    records: list[Record] = []
    failures: list[tuple[str, str, str]] = []  # exchange, pair, reason
    for name in exchanges:
        (listener,) = build_listeners(settings, _discard, exchanges=[name], pairs=(),
                                      url=None, connect_timeout=min(10.0, timeout))
        try:
            records += listener.snapshot(symbols, trades_limit,
                                         timeout=max(0.0, deadline - time.monotonic()))
        except SnapshotIncomplete as exc:
            records += exc.records
            failures += [(name, pair, reason) for pair, reason in exc.failures.items()]
    typed = _typed_spellings(symbols)
    refused = [r for r in records if isinstance(r, Status)]
    for status in refused:
        print(f"{PROG} snapshot: {status.exchange} {_label(status.pair, typed)}: {status.detail}",
              file=err)
    for exchange, pair, reason in failures:
        print(f"{PROG} snapshot: {exchange} {_label(pair, typed)}: download failed: {reason}",
              file=err)
    tickers = [ticker_row(r) for r in records if isinstance(r, Ticker)]
    trades = [trade_row(r) for r in records if isinstance(r, Trade)]
    if output == "csv":
        write_csv(out, tickers, trades)
    else:
        json.dump({"tickers": tickers, "trades": trades}, out, indent=2)
        out.write("\n")
    out.flush()
    if failures:
        return EXIT_DOWNLOAD_FAILED
    return EXIT_BAD_SYMBOL if refused else EXIT_OK


def ticker_row(ticker: Ticker) -> dict[str, Any]:
    """A ticker as the snapshot prints it: ``price`` is the last trade price."""
    return {
        "exchange": ticker.exchange,
        "symbol": ticker.symbol,
        "pair": ticker.pair,
        "datetime": format_time(ticker.time),
        "price": format_decimal(ticker.last),
        "volume": format_decimal(ticker.volume_24h),
        "bid": format_decimal(ticker.bid),
        "ask": format_decimal(ticker.ask),
    }


def trade_row(trade: Trade) -> dict[str, Any]:
    """A trade as the snapshot prints it: ``volume`` the (positive) amount, ``is_buy`` whether
    the taker bought."""
    return {
        "exchange": trade.exchange,
        "symbol": trade.symbol,
        "pair": trade.pair,
        "datetime": format_time(trade.time),
        "price": format_decimal(trade.price),
        "volume": format_decimal(trade.amount),
        "is_buy": trade.side.value == "buy",
    }


def write_csv(out: TextIO, tickers: list[dict[str, Any]], trades: list[dict[str, Any]]) -> None:
    """One header, then ticker rows, then trade rows; ``record`` says which. A field a kind
    lacks (``bid``/``ask`` of a trade, ``is_buy`` of a ticker, an unknown volume) is empty;
    ``is_buy`` is ``true`` or ``false``."""
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for kind, rows in (("ticker", tickers), ("trade", trades)):
        for row in rows:
            cells = {key: _csv_cell(value) for key, value in row.items()}
            writer.writerow({"record": kind, **cells})


def _csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _typed_spellings(symbols: Sequence[str]) -> dict[str, str]:
    """Canonical pair -> the spelling the user typed, to name refused symbols as typed."""
    typed: dict[str, str] = {}
    for text in symbols:
        try:
            typed.setdefault(parse_pair(text), text)
        except PairError:
            continue
    return typed


def _label(pair: str | None, typed: Mapping[str, str]) -> str:
    text = typed.get(pair or "", pair or "")
    return repr(text) if text == pair else f"{text!r} ({pair})"


def _discard(record: Record) -> None:
    """``snapshot`` only reads what ``ExchangeListener.snapshot`` returns."""


# record --------------------------------------------------------------------------------------


def record(symbols: Sequence[str] | None, exchanges: Sequence[str], settings: Settings,
           out: TextIO | None = None) -> int:
    """Stream every listener's records to ``out`` as JSON lines until SIGINT or SIGTERM.

    Each line is a record's ``to_json()`` with ``"record"``: ``"ticker"``, ``"trade"`` or
    ``"status"`` first. Listeners run ``run()`` on daemon threads (REST snapshot first, where
    a REST URL applies, then the websocket) and hand records over a queue; only this thread
    writes, one flushed line per record.
    """
    out = out or sys.stdout
    stop = threading.Event()
    records: queue.Queue[Record] = queue.Queue()
    listeners = build_listeners(settings, records.put, exchanges=exchanges, pairs=symbols,
                                sleep=stop.wait)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    threads = [threading.Thread(target=listener.run, name=f"listener-{listener.name}",
                                daemon=True) for listener in listeners]
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set():
            try:
                item = records.get(timeout=0.2)
            except queue.Empty:
                continue
            out.write(json.dumps({"record": _kind(item), **item.to_json()}) + "\n")
            out.flush()
    except BrokenPipeError:  # the reader went away (``| head``): a normal end
        # point stdout at /dev/null so the interpreter's final flush can't fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        for listener in listeners:
            listener.stop()
        for thread in threads:
            thread.join(timeout=2)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def _kind(item: Record) -> str:
    return {Ticker: "ticker", Trade: "trade", Status: "status"}[type(item)]


# arguments -----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Crypto market data from the command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    known = ", ".join(sorted(LISTENERS))

    snap = commands.add_parser(
        "snapshot", help="print each symbol's ticker and recent trades (REST) and exit",
        description="Print each symbol's REST ticker and recent trades and exit. Exit status: "
                    "0 all printed, 2 a symbol is malformed or unknown (the others are still "
                    "printed), 1 a download failed after retrying within --timeout.")
    snap.add_argument("symbols", nargs="+", metavar="SYMBOL",
                      help="a pair in any spelling: btcusd, BTC-USD, BTC/USD, tBTCUSD")
    snap.add_argument("--exchange", default="bitfinex",
                      help=f"exchange, or a comma list ({known}; default bitfinex)")
    snap.add_argument("--format", choices=("json", "csv"), default="json",
                      help='json: {"tickers": [...], "trades": [...]} (default); csv: one table '
                           "with a record column (ticker or trade)")
    snap.add_argument("--timeout", type=_positive, default=10.0,
                      help="seconds to keep retrying failed downloads, in all (default 10)")
    snap.add_argument("--trades", type=_trades_limit, default=TRADES_LIMIT,
                      help=f"recent trades per symbol, 1..1000 (default {TRADES_LIMIT})")
    snap.add_argument("--log-level", help="stderr log level (LOG_LEVEL)")

    rec = commands.add_parser(
        "record", help="stream tickers, trades and statuses as JSON lines until Ctrl-C",
        description="Stream normalized records (ticker, trade, status) from the exchanges' "
                    "websockets as JSON lines on stdout until SIGINT or SIGTERM (exit 0).")
    rec.add_argument("symbols", nargs="*", metavar="SYMBOL",
                     help="pairs in any spelling (default: PAIRS)")
    rec.add_argument("--exchange", help=f"comma list ({known}; default: EXCHANGES)")
    rec.add_argument("--log-level", help="stderr log level (LOG_LEVEL)")
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, not {text!r}")
    return value


def _trades_limit(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 1000):
        raise argparse.ArgumentTypeError(f"must be a whole number 1..1000, not {text!r}")
    return int(text)
