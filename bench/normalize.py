"""Normalize-path benchmark: µs per message from frame text to records, beside cryptofeed 2.4.

Run: ``.venv/bin/python bench/normalize.py [--seconds 3] [--json PATH] [--breakdown]`` (about
45 s with the default 3 s, 32 s with ``--seconds 2``, on the 2-core dev machine; the first run
also makes ``bench/.venv-cryptofeed`` from bench/requirements.txt, about 30 s more).

What is timed is the work of ``session.receive(frame, received_at)``, the call the listener
makes per frame (exchanges/base.py), on the frames under ``tests/fixtures/<exchange>/``: the
recorded ones (excerpts of cryptofeed's own sample data) where there is a recording of the
protocol our listener speaks, the documented ones (``docs_frames.txt``) where there is not; and,
in the same run, cryptofeed 2.4's ``message_handler`` on exactly the same recorded frames
(bench/normalize_cryptofeed.py, in its own virtualenv, since its pins are not ours). Timed
rounds of the two sides alternate, and each number is the best of the rounds, so load from
other processes hits both sides alike.

``VENUES`` is the one table of what is measured: per exchange, its recording, how to tell a
recorded frame's kind, which kinds are its **stream** kinds, which stream kinds come from the
docs instead (the recording lacks them), and why cryptofeed can't be compared where it can't:

- Bitfinex, Coinbase, Binance, Binance.US, Bitstamp, OKX: recorded frames, cryptofeed beside.
- Kraken: our listener speaks WebSocket v2; the recordings (and cryptofeed 2.4) are v1, whose
  frames v2 doesn't send. Gemini: ours is the stream API at ``wss://ws.gemini.com``; the
  recording (and cryptofeed 2.4) is the archived Market Data v2 socket. Bybit: no recording
  (and cryptofeed 2.4's Bybit is the retired pre-V5 API). These three are timed on the docs'
  frames, and cryptofeed is reported as not comparable, with the reason.

A **message** is one websocket frame. The sets per exchange:

- **stream** (the headline, µs per message): every recorded frame of the kinds a subscribed
  connection receives all day long: top of book, trades, and the heartbeats the exchange sends
  (or the answers to the listener's keepalive pings, where that is the keepalive). Bitfinex
  ticker and ``hb`` (``te``/``tu`` trades would count too, but the recording has none), Coinbase
  ``ticker`` and ``match``, Binance ``bookTicker``, Bitstamp ``trade``, OKX ``tickers`` and
  ``trades``. Left out: acks, events, subscribe-time snapshots (Bitfinex's 30 trades, Coinbase's
  ``last_match``) and frames of channels our listener does not subscribe to (a Bitfinex book,
  Coinbase ``l2update``, Binance ``aggTrade``, ``depth`` and ``kline``, Bitstamp
  ``diff_order_book``). Without a recording (Kraken, Gemini, Bybit) it is the documented frames
  of the stream kinds, each once: the mix is the docs', not a day's, so read the kind rows.
- **all** (µs per frame): every recorded frame that cryptofeed can process, snapshots of 30
  trades included; frames cryptofeed raises on are listed and left out of both sides. Only
  where there is a recording.

Rows per kind show what each kind costs. A stream kind the recording lacks is timed on the
docs' frames, ours only ("(docs, not recorded)"), but for Bitfinex ``te``/``tu``, which
cryptofeed reads too: the docs' frames with a SEQ_ALL number appended, as on cryptofeed's
connections. ``--breakdown`` adds, for one frame of each kind, the parts of its time: decoding,
``Decimal`` construction, times, records, the rest.

``--json PATH`` writes ``{"python", "machine", "cryptofeed", "cryptofeed_unavailable",
"exchanges": {name: {"stream_us_per_msg", "cryptofeed_stream_us_per_msg", "speedup",
"all_frames_us_per_frame", "cryptofeed_all_frames_us_per_frame", "all_frames_speedup",
"messages", "frames", "kinds", "left_out", "source", "stream_kinds",
"cryptofeed_not_comparable"}}}``: ``speedup`` is cryptofeed's time over ours, ``messages`` and
``frames`` count the two sets; ``source`` is ``recorded`` or ``docs`` (then the ``all`` numbers
and ``frames`` are null); cryptofeed's numbers are null where it is not comparable
(``cryptofeed_not_comparable`` says why) or when its virtualenv could not be made
(``cryptofeed_unavailable`` says why).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import timeit
import venv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exchanges import LISTENERS  # noqa: E402
from exchanges.parsing import decode  # noqa: E402
from exchanges.records import time_from_ms  # noqa: E402
from tests.unit.frames import FIXTURES, documented_frames, recorded_frames  # noqa: E402

BENCH = ROOT / "bench"
CRYPTOFEED_VENV = BENCH / ".venv-cryptofeed"
CRYPTOFEED_REQUIREMENTS = BENCH / "requirements.txt"
CRYPTOFEED_DRIVER = BENCH / "normalize_cryptofeed.py"
ROUNDS = 7
PASS_MESSAGES = 2000  # messages per timed pass, as in the driver
# Shares of ``--seconds`` (per side and exchange): the stream set, the all set, and the kind
# rows together (each gets its part of it).
STREAM_SHARE, ALL_SHARE, KINDS_SHARE = 1 / 2, 1 / 4, 1 / 4
TARGET_US, TARGET_SPEEDUP = 2.5, 1.8  # issue 4's row (Bitfinex and Coinbase)


# What is measured ------------------------------------------------------------------------

# (decoded recorded frame, state kept over one recording) -> the frame's kind
Classifier = Callable[[Any, dict[str, Any]], str]


@dataclass(frozen=True)
class Documented:
    """A stream kind timed on ``docs_frames.txt`` frames (by name) or on text the docs give."""

    kind: str
    names: tuple[str, ...] = ()
    literal: tuple[str, ...] = ()  # frames the docs describe as text (OKX's ``pong``)
    cryptofeed: bool = False  # cryptofeed reads these very frames too
    # (frames) -> (setup frames, frames as sent): Bitfinex's ack and SEQ_ALL numbers
    adapt: Callable[[list[str]], tuple[list[str], list[str]]] | None = None


@dataclass(frozen=True)
class Venue:
    """One exchange's row: where its frames come from and which of them are the stream."""

    excerpt: str | None  # recorded websocket excerpt in tests/fixtures/<exchange>/; None: none
    classify: Classifier | None  # the kind of a recorded frame; ``ack`` frames are the setup
    stream: tuple[str, ...]  # the stream kinds, in the order the rows are shown
    documented: tuple[Documented, ...] = ()  # stream kinds timed on the docs' frames
    not_comparable: str | None = None  # why cryptofeed can't be set beside ours; None: it can
    decoder: str = "orjson"  # what ``receive`` decodes with (``--breakdown``): orjson, exact, match
    times: str = "epoch"  # how event times are written (``--breakdown``): epoch numbers, iso text
    undecoded: tuple[str, ...] = ()  # frames ``receive`` knows by their text, decoding nothing
    target: bool = False  # issue 4's targets apply


def bitfinex_kind(message: Any, state: dict[str, Any]) -> str:
    """What a decoded Bitfinex frame is; ``state["tickers"]``: the ticker channels' ids so far."""
    tickers = state.setdefault("tickers", set())
    if isinstance(message, dict):
        if message.get("event") != "subscribed":
            return "event"
        if message["channel"] == "ticker":
            tickers.add(message["chanId"])
        return "ack"
    body = message[1]
    if body == "hb":
        return "hb"
    if body in ("te", "tu"):
        return "te/tu"
    if isinstance(body, list) and body and isinstance(body[0], list):
        return "snapshot"
    return "ticker" if message[0] in tickers else "other channel"


def coinbase_kind(message: dict[str, Any], state: dict[str, Any]) -> str:
    """What a decoded Coinbase frame is: its ``type``, with the ones we don't stream grouped."""
    kind = message["type"]
    if kind in ("ticker", "match", "heartbeat"):
        return kind
    return {"subscriptions": "ack", "last_match": "snapshot"}.get(kind, "other channel")


def binance_kind(message: dict[str, Any], state: dict[str, Any]) -> str:
    """Binance (and Binance.US) combined streams: the stream's channel (``bnbbtc@trade``)."""
    if "stream" not in message:
        return "ack" if "result" in message else "event"
    channel = message["stream"].partition("@")[2]
    return channel if channel in ("bookTicker", "trade") else "other channel"


def bitstamp_kind(message: dict[str, Any], state: dict[str, Any]) -> str:
    """Bitstamp: its ``event``, and for data the channel (``order_book_``, ``live_trades_``)."""
    event, channel = message["event"], message.get("channel") or ""
    if event == "bts:subscription_succeeded":
        return "ack"
    if event == "bts:heartbeat":
        return "heartbeat"
    if event.startswith("bts:"):
        return "event"
    if event == "trade" and channel.startswith("live_trades_"):
        return "trade"
    if event == "data" and channel.startswith("order_book_"):
        return "order_book"
    return "other channel"


def okx_kind(message: dict[str, Any], state: dict[str, Any]) -> str:
    """OKX: an event (``subscribe`` is the ack), else the push's channel."""
    if "event" in message:
        return "ack" if message["event"] == "subscribe" else "event"
    channel = message["arg"]["channel"]
    return channel if channel in ("tickers", "trades") else "other channel"


def bitfinex_sequenced(frames: list[str]) -> tuple[list[str], list[str]]:
    """Bitfinex: an ack for the docs' trades chanId, and the docs' ``te`` and ``tu`` with a
    SEQ_ALL number appended (what cryptofeed's connections get; our parser ignores it)."""
    ack = json.dumps({"event": "subscribed", "channel": "trades", "chanId": 17470,
                      "symbol": "tBTCUSD", "pair": "BTCUSD"})
    return [ack], [frame[:-1] + f",{seq}]" for seq, frame in enumerate(frames, 1000)]


VENUES: dict[str, Venue] = {
    "bitfinex": Venue(
        "BITFINEX.ws.11.0.excerpt", bitfinex_kind, ("ticker", "hb", "te/tu"),
        (Documented("te/tu", ("te", "tu"), cryptofeed=True, adapt=bitfinex_sequenced),),
        decoder="match", target=True),
    "coinbase": Venue(
        "COINBASE.ws.28.0.excerpt", coinbase_kind, ("ticker", "match", "heartbeat"),
        (Documented("heartbeat", ("heartbeat",)),), times="iso", target=True),
    "binance": Venue(
        "BINANCE.ws.1.0.excerpt", binance_kind, ("bookTicker", "trade"),
        (Documented("trade", ("trade",)),)),
    "binanceus": Venue(
        "BINANCE_US.ws.1.0.excerpt", binance_kind, ("bookTicker", "trade"),
        (Documented("trade", ("trade",)),)),
    "bitstamp": Venue(
        "BITSTAMP.ws.1.0.excerpt", bitstamp_kind, ("order_book", "trade", "heartbeat"),
        (Documented("order_book", ("order_book",)), Documented("heartbeat", ("heartbeat",)))),
    "okx": Venue(
        "OKX.ws.1.0.excerpt", okx_kind, ("tickers", "trades", "pong"),
        (Documented("pong", literal=("pong",)),), undecoded=("pong",)),
    "kraken": Venue(
        None, None, ("ticker", "trade", "heartbeat", "pong"),
        (Documented("ticker", ("ticker_update", "live_ticker_update")),
         Documented("trade", ("trade_update",)),
         Documented("heartbeat", ("heartbeat",)),
         Documented("pong", ("pong", "live_pong"))),
        not_comparable="cryptofeed 2.4 speaks Kraken's WebSocket v1, the protocol of the "
                       "recordings; ours speaks v2, whose frames it can't read (and v1's ours "
                       "doesn't): timed on the v2 docs' frames",
        decoder="exact", times="iso", undecoded=('{"channel":"heartbeat"}',)),
    "gemini": Venue(
        None, None, ("bookTicker", "trade", "pong"),
        (Documented("bookTicker", ("book_ticker", "book_ticker_traded", "book_ticker_with_e",
                                   "book_ticker_padded")),
         Documented("trade", ("trade_taker_buy", "trade_taker_sell", "trade_with_e")),
         Documented("pong", ("ping_reply",))),
        not_comparable="cryptofeed 2.4 reads the archived Market Data v2 socket "
                       "(/v2/marketdata: l2_updates, trades), the protocol of the recording; "
                       "ours the stream API at wss://ws.gemini.com (bookTicker, trade): timed "
                       "on the docs' frames"),
    "bybit": Venue(
        None, None, ("orderbook.1", "publicTrade", "pong"),
        (Documented("orderbook.1", ("orderbook_1_snapshot",)),
         Documented("publicTrade", ("public_trade",)),
         Documented("pong", ("pong_spot",))),
        not_comparable="no Bybit recording in cryptofeed's sample data (and cryptofeed 2.4's "
                       "Bybit speaks the retired pre-V5 /realtime API): timed on the V5 docs' "
                       "frames"),
}


@dataclass
class FrameSets:
    """One exchange's frames: ``sets`` {name: frames} for ours, ``compared`` the names of those
    cryptofeed gets too, ``setup`` replayed once before timing, ``stream_kinds`` what the
    stream set holds."""

    setup: list[str]
    sets: dict[str, list[str]]
    compared: list[str]
    stream_kinds: list[str]


def frame_sets(exchange: str) -> FrameSets:
    """The sets of one exchange, from ``VENUES``."""
    venue = VENUES[exchange]
    setup: list[str] = []
    sets: dict[str, list[str]] = {"stream": []}
    compared: list[str] = []
    stream_kinds: list[str] = []
    if venue.excerpt is not None and venue.classify is not None:
        frames = recorded_frames(exchange, venue.excerpt)
        state: dict[str, Any] = {}
        kinds = [venue.classify(json.loads(frame, parse_float=Decimal), state)
                 for frame in frames]
        sets["stream"] = [frame for frame, kind in zip(frames, kinds, strict=True)
                          if kind in venue.stream]
        sets["all"] = frames
        compared += ["stream", "all"]
        for kind in venue.stream:
            chosen = [frame for frame, k in zip(frames, kinds, strict=True) if k == kind]
            if chosen:
                sets[kind] = chosen
                compared.append(kind)
                stream_kinds.append(kind)
        setup = [frame for frame, kind in zip(frames, kinds, strict=True) if kind == "ack"]
    docs = documented_frames(exchange)
    for row in venue.documented:
        frames = [docs[name] for name in row.names] + list(row.literal)
        if row.adapt is not None:
            extra, frames = row.adapt(frames)
            setup += extra
        if venue.excerpt is None:
            name = f"{row.kind} (docs)"
            sets["stream"] += frames
            stream_kinds.append(row.kind)
        else:
            name = f"{row.kind} (docs, not recorded)"
        sets[name] = frames
        if row.cryptofeed:
            compared.append(name)
    return FrameSets(setup, sets, compared, stream_kinds)


def fixture_feeds(exchange: str) -> dict[str, str]:
    """``feeds.json``: {native symbol: our pair} for every symbol of the exchange's frames."""
    return json.loads((FIXTURES / exchange / "feeds.json").read_text())


def cryptofeed_symbols(feeds: dict[str, str]) -> dict[str, str]:
    """{cryptofeed's normalized symbol: native}: our pair (the same ``BASE-QUOTE`` form), or the
    native symbol where two symbols share a pair (a future and the spot pair, say)."""
    pairs = list(feeds.values())
    return {pair if pairs.count(pair) == 1 else symbol: symbol for symbol, pair in feeds.items()}


# Our side ------------------------------------------------------------------------------------


class OurReplay:
    """One set of frames through one session, repeated to about ``PASS_MESSAGES`` a pass."""

    def __init__(self, receive: Callable[[str, datetime], Any], frames: list[str]) -> None:
        self.receive = receive
        self.items = frames * max(1, PASS_MESSAGES // len(frames))

    def failures(self, frames: list[str]) -> list[list[Any]]:
        """[index, error] for each frame ``receive`` raises on."""
        failed = []
        for index, frame in enumerate(frames):
            try:
                self.receive(frame, datetime.now(UTC))
            except Exception as exc:
                failed.append([index, f"{type(exc).__name__}: {exc}"])
        return failed

    def time(self, seconds: float) -> float:
        """Microseconds per message over passes lasting about ``seconds`` in all."""
        receive, items, received_at = self.receive, self.items, datetime.now(UTC)
        spent, messages = 0.0, 0
        while spent < seconds:
            started = time.perf_counter()
            for frame in items:
                receive(frame, received_at)
            spent += time.perf_counter() - started
            messages += len(items)
        return spent / messages * 1e6


# cryptofeed's side ---------------------------------------------------------------------------


def cryptofeed_python() -> tuple[Path | None, str]:
    """The cryptofeed virtualenv's python, made or refreshed from bench/requirements.txt; or
    (None, why not)."""
    python = CRYPTOFEED_VENV / "bin" / "python"
    stamp = CRYPTOFEED_VENV / "requirements.installed"
    wanted = CRYPTOFEED_REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python, ""
    print(f"making {CRYPTOFEED_VENV} from {CRYPTOFEED_REQUIREMENTS.name} (pip, about 30 s)...",
          flush=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(CRYPTOFEED_VENV)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(CRYPTOFEED_REQUIREMENTS)], capture_output=True, text=True, check=False)
    except OSError as exc:
        return None, f"could not make the virtualenv: {exc}"
    if install.returncode != 0:
        lines = [line for line in install.stderr.splitlines() if "Location" not in line]
        return None, "pip install failed: " + " | ".join(lines[-3:])
    stamp.write_text(wanted)
    return python, ""


class Cryptofeed:
    """The driver subprocess (bench/normalize_cryptofeed.py), one JSON line per request."""

    def __init__(self, python: Path) -> None:
        self.process = subprocess.Popen([str(python), str(CRYPTOFEED_DRIVER)], text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the cryptofeed driver exited ({self.process.wait()})")
        return json.loads(line)

    def version(self) -> str:
        return self.ask(op="version")["version"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


# Where the time goes ---------------------------------------------------------------------


def best_ns(call: Callable[[], Any], number: int = 20000) -> float:
    """Best of 7 timings of ``call``, in ns per call."""
    return min(timeit.repeat(call, number=number, repeat=7)) / number * 1e9


def breakdown(venue: Venue, frame: str, receive: Callable[[str, datetime], Any],
              cryptofeed: Cryptofeed | None) -> dict[str, float]:
    """ns per part of reading one frame: what ``receive`` takes in all, and what the work every
    normalizer must do takes alone when done on this frame's values (the decoding: orjson, or
    the exact decoder where prices are JSON numbers; a ``Decimal`` from text per exact number,
    the event time, the records); the rest is the text match (Bitfinex), field lookups, checks
    and dispatch. cryptofeed's decoding (yapic.json with ``parse_float=Decimal``) and its total
    for comparison, where it reads the frame too."""
    received_at = datetime.now(UTC)
    records = receive(frame, received_at)
    decimals = list({id(value): value for record in records for value in _fields(record)
                     if isinstance(value, Decimal)}.values())
    texts = [str(value) for value in decimals]
    times = list({id(record.time): record.time for record in records
                  if record.time is not received_at}.values())
    parts = {"total": best_ns(lambda: receive(frame, received_at))}
    if frame not in venue.undecoded:
        if venue.decoder == "orjson":
            parts["orjson"] = best_ns(lambda: orjson.loads(frame))
        elif venue.decoder == "exact":
            parts["exact decode"] = best_ns(lambda: decode(frame))
    if texts:
        parts[f"{len(texts)} Decimal(text)"] = best_ns(lambda: [Decimal(text) for text in texts])
    if times and venue.times == "iso":
        isos = [moment.isoformat() for moment in times]
        parts["fromisoformat"] = best_ns(lambda: [datetime.fromisoformat(iso) for iso in isos])
    elif times:
        millis = [int(moment.timestamp() * 1000) for moment in times]
        parts["time_from_ms"] = best_ns(lambda: [time_from_ms(ms) for ms in millis])
    arguments = [(type(record), _fields(record)) for record in records]
    if arguments:
        parts[f"{len(arguments)} records"] = best_ns(
            lambda: [make(*values) for make, values in arguments])
    parts["rest"] = parts["total"] - sum(value for key, value in parts.items() if key != "total")
    if cryptofeed is not None:
        parts.update(cryptofeed.ask(op="breakdown", frame=frame))
    return parts


def _fields(record: Any) -> list[Any]:
    return [getattr(record, name) for name in record.__slots__]


def print_breakdown(exchange: str, result: dict[str, Any], cryptofeed: Cryptofeed | None) -> None:
    """One line per kind row: where its first frame's time goes."""
    frames: FrameSets = result["frames"]
    for name, each in frames.sets.items():
        if name in ("stream", "all"):
            continue
        theirs = cryptofeed if name in result["theirs"] else None
        parts = breakdown(VENUES[exchange], each[0], result["session"].receive, theirs)
        text = ", ".join(f"{part} {value:.0f}" for part, value in parts.items())
        print(f"{exchange:9s} {name:30s} ns: {text}")


# The run ---------------------------------------------------------------------------------


def load_cryptofeed(cryptofeed: Cryptofeed, exchange: str, frames: FrameSets,
                    theirs: dict[str, list[str]]) -> dict[str, Any]:
    """Build cryptofeed's feed for these sets; its ``failed`` answer."""
    return cryptofeed.ask(op="load", exchange=exchange,
                          symbols=cryptofeed_symbols(fixture_feeds(exchange)),
                          setup=frames.setup, sets=theirs)["failed"]


def measure(exchange: str, seconds: float, cryptofeed: Cryptofeed | None) -> dict[str, Any]:
    """Both sides' best µs per message on each set of one exchange, rounds alternating."""
    venue = VENUES[exchange]
    frames = frame_sets(exchange)
    sets = frames.sets
    compare = cryptofeed is not None and venue.not_comparable is None
    theirs = {name: sets[name] for name in frames.compared} if compare else {}
    left_out: dict[str, str] = {}
    if cryptofeed is not None and theirs:
        failed = load_cryptofeed(cryptofeed, exchange, frames, theirs)
        if failed.pop("setup"):
            raise RuntimeError(f"cryptofeed could not read the {exchange} acks")
        for index, error in failed.pop("all", []):
            left_out[sets["all"][index]] = error
        if any(failed.values()):
            raise RuntimeError(f"cryptofeed failed on {exchange} stream frames: {failed}")
        if left_out:  # process what both can: the same frames on both sides
            sets["all"] = theirs["all"] = [frame for frame in sets["all"]
                                           if frame not in left_out]
            load_cryptofeed(cryptofeed, exchange, frames, theirs)
    listener = LISTENERS[exchange]([], lambda record: None)
    session = listener.new_session(fixture_feeds(exchange))
    for frame in frames.setup:
        session.receive(frame, datetime.now(UTC))
    ours = {name: OurReplay(session.receive, each) for name, each in sets.items()}
    for name, replay in ours.items():
        if failed_here := replay.failures(sets[name]):
            raise RuntimeError(f"our {exchange} session failed on {name} frames: {failed_here}")
    kind_rows = len(sets) - len({"stream", "all"} & set(sets))
    shares = {"stream": STREAM_SHARE, "all": ALL_SHARE}
    best: dict[str, dict[str, float]] = {name: {} for name in sets}
    for _ in range(ROUNDS):
        for name in sets:
            share = seconds / ROUNDS * shares.get(name, KINDS_SHARE / max(1, kind_rows))
            _keep_best(best[name], "ours", ours[name].time(share))
            if cryptofeed is not None and name in theirs:
                _keep_best(best[name], "cryptofeed",
                           cryptofeed.ask(op="time", set=name, seconds=share)["us_per_msg"])
    return {"frames": frames, "theirs": theirs, "best": best, "left_out": left_out,
            "session": session}


def _keep_best(best: dict[str, float], side: str, micros: float) -> None:
    best[side] = min(best.get(side, micros), micros)


def summary(exchange: str, result: dict[str, Any]) -> dict[str, Any]:
    """The JSON of one exchange (see the module docstring)."""
    best, frames = result["best"], result["frames"]
    sets, venue = frames.sets, VENUES[exchange]

    def speedup(name: str) -> float | None:
        theirs = best.get(name, {}).get("cryptofeed")
        return None if theirs is None else round(theirs / best[name]["ours"], 2)

    def rounded(name: str, side: str) -> float | None:
        value = best.get(name, {}).get(side)
        return None if value is None else round(value, 3)

    return {
        "stream_us_per_msg": rounded("stream", "ours"),
        "cryptofeed_stream_us_per_msg": rounded("stream", "cryptofeed"),
        "speedup": speedup("stream"),
        "all_frames_us_per_frame": rounded("all", "ours"),
        "cryptofeed_all_frames_us_per_frame": rounded("all", "cryptofeed"),
        "all_frames_speedup": speedup("all"),
        "messages": len(sets["stream"]),
        "frames": len(sets["all"]) if "all" in sets else None,
        "kinds": {name: {"messages": len(sets[name]), "us_per_msg": rounded(name, "ours"),
                         "cryptofeed_us_per_msg": rounded(name, "cryptofeed"),
                         "speedup": speedup(name)}
                  for name in sets if name not in ("stream", "all")},
        "left_out": result["left_out"],
        "source": "recorded" if venue.excerpt is not None else "docs",
        "stream_kinds": frames.stream_kinds,
        "cryptofeed_not_comparable": venue.not_comparable,
    }


def print_table(exchange: str, row: dict[str, Any]) -> None:
    def cell(value: float | None, suffix: str = "") -> str:
        return f"{'-' if value is None else f'{value:.2f}{suffix}':>12}"

    source = "stream" if row["source"] == "recorded" else "stream (docs)"
    print(f"{exchange:9s} {source + ': ' + ', '.join(row['stream_kinds']):40s}"
          f" {row['messages']:5d}{cell(row['stream_us_per_msg'])}"
          f"{cell(row['cryptofeed_stream_us_per_msg'])}{cell(row['speedup'], 'x')}")
    if row["frames"] is not None:
        print(f"{'':9s} {'all recorded frames (per frame)':40s} {row['frames']:5d}"
              f"{cell(row['all_frames_us_per_frame'])}"
              f"{cell(row['cryptofeed_all_frames_us_per_frame'])}"
              f"{cell(row['all_frames_speedup'], 'x')}")
    for name, kind in row["kinds"].items():
        print(f"{'':9s} {'  ' + name:40s} {kind['messages']:5d}{cell(kind['us_per_msg'])}"
              f"{cell(kind['cryptofeed_us_per_msg'])}{cell(kind['speedup'], 'x')}")
    for frame, error in row["left_out"].items():
        print(f"{'':9s}   left out of 'all' (cryptofeed raises {error}): {frame[:60]}")
    if row["cryptofeed_not_comparable"]:
        print(f"{'':9s}   cryptofeed not comparable: {row['cryptofeed_not_comparable']}")


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (``platform.processor()`` is often empty on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="timed seconds per side and exchange: half on the stream set, a "
                             "quarter on all recorded frames, a quarter shared by the kind "
                             "rows; default 3")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--breakdown", action="store_true",
                        help="also show, for one frame of each kind, where its time goes")
    args = parser.parse_args()
    started = time.monotonic()
    python, why_not = cryptofeed_python()
    cryptofeed = Cryptofeed(python) if python is not None else None
    version = cryptofeed.version() if cryptofeed is not None else None
    machine = f"{platform.machine()}, {cpu_model()}, {os.cpu_count()} cpus"
    print(f"python {platform.python_version()} on {machine}; cryptofeed "
          f"{version or 'not measured: ' + why_not}")
    print(f"µs per message, best of {ROUNDS} alternating rounds"
          f"\n{'exchange':9s} {'set':40s} {'msgs':>5s}{'ours':>12s}{'cryptofeed':>12s}"
          f"{'speedup':>12s}")
    rows, results = {}, {}
    try:
        for exchange in VENUES:
            results[exchange] = measure(exchange, args.seconds, cryptofeed)
            rows[exchange] = summary(exchange, results[exchange])
            print_table(exchange, rows[exchange])
        if args.breakdown:
            print("where one frame's time goes (ns; 'rest' is matching, lookups, checks, calls):")
            for exchange, result in results.items():
                if cryptofeed is not None and result["theirs"]:  # its feed for this exchange
                    load_cryptofeed(cryptofeed, exchange, result["frames"], result["theirs"])
                print_breakdown(exchange, result, cryptofeed)
    finally:
        if cryptofeed is not None:
            cryptofeed.close()
    for exchange, row in rows.items():
        if not VENUES[exchange].target:
            continue
        ours, ratio = row["stream_us_per_msg"], row["speedup"]
        met = ours <= TARGET_US and (ratio is None or ratio >= TARGET_SPEEDUP)
        print(f"target {exchange}: <= {TARGET_US} µs and >= {TARGET_SPEEDUP}x cryptofeed on the "
              f"stream: {'met' if met else 'MISSED'} ({ours:.2f} µs"
              f"{', cryptofeed not measured' if ratio is None else f', {ratio:.2f}x'})")
    print(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "python": platform.python_version(), "machine": machine, "cryptofeed": version,
            "cryptofeed_unavailable": why_not or None, "exchanges": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
