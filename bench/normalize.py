"""Normalize-path benchmark: µs per message from frame text to records, beside cryptofeed 2.4.

Run: ``.venv/bin/python bench/normalize.py [--seconds 3] [--json PATH] [--breakdown]`` (about
40 s; the first run also makes ``bench/.venv-cryptofeed`` from bench/requirements.txt, about
30 s more).

What is timed is the work of ``session.receive(frame, received_at)``, the call the listener
makes per frame (exchanges/base.py), on the recorded frames under ``tests/fixtures/<exchange>/``
(excerpts of cryptofeed's own sample data); and, in the same run, cryptofeed 2.4's
``message_handler`` on exactly the same frames (bench/normalize_cryptofeed.py, in its own
virtualenv, since its pins are not ours). Timed rounds of the two sides alternate, and each
number is the best of the rounds, so load from other processes hits both sides alike.

A **message** is one websocket frame. Two sets of frames per exchange:

- **stream** (the headline, µs per message): every recorded frame of the kinds a subscribed
  connection receives all day long: Bitfinex ticker updates and heartbeats (``te``/``tu``
  trades would count too, but the recording has none), Coinbase ``ticker`` and ``match`` (and
  ``heartbeat``, which the recording lacks). Left out: acks, ``info``/``conf``, the trades
  snapshot and ``last_match`` a subscribe brings, and frames of channels neither side
  subscribed to (a Bitfinex book update, Coinbase ``l2update``).
- **all** (µs per frame): every recorded frame that cryptofeed can process, snapshots of 30
  trades included; frames cryptofeed raises on are listed and left out of both sides.

Rows per kind show what each kind costs; the Bitfinex ``te``/``tu`` row replays the docs'
frames (tests/fixtures/bitfinex/docs_frames.txt) with a SEQ_ALL number appended, as on
cryptofeed's connections, since none was recorded. ``--breakdown`` adds, for one frame of each
kind, the parts of its time: decoding, ``Decimal`` construction, times, records, the rest.

``--json PATH`` writes ``{"python", "machine", "cryptofeed", "cryptofeed_unavailable",
"exchanges": {name: {"stream_us_per_msg", "cryptofeed_stream_us_per_msg", "speedup",
"all_frames_us_per_frame", "cryptofeed_all_frames_us_per_frame", "all_frames_speedup",
"messages", "frames", "kinds", "left_out"}}}``: ``speedup`` is cryptofeed's time over ours,
``messages`` and ``frames`` count the two sets; cryptofeed's numbers are null, and
``cryptofeed_unavailable`` says why, when its virtualenv could not be made.
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
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exchanges import LISTENERS  # noqa: E402
from exchanges.records import time_from_ms  # noqa: E402
from tests.unit.frames import documented_frames, recorded_frames  # noqa: E402

EXCERPTS = {"bitfinex": "BITFINEX.ws.11.0.excerpt", "coinbase": "COINBASE.ws.28.0.excerpt"}
BENCH = ROOT / "bench"
CRYPTOFEED_VENV = BENCH / ".venv-cryptofeed"
CRYPTOFEED_REQUIREMENTS = BENCH / "requirements.txt"
CRYPTOFEED_DRIVER = BENCH / "normalize_cryptofeed.py"
ROUNDS = 7
PASS_MESSAGES = 2000  # messages per timed pass, as in the driver
KIND_SHARE = 1 / 3  # a per-kind row gets this share of ``--seconds``
TARGET_US, TARGET_SPEEDUP = 2.5, 1.8  # issue 4's row


# Frames ----------------------------------------------------------------------------------


def bitfinex_kind(message: Any, ticker_channels: set[int]) -> str:
    """What a decoded Bitfinex frame is, for choosing the sets."""
    if isinstance(message, dict):
        return "ack" if message.get("event") == "subscribed" else "event"
    body = message[1]
    if body == "hb":
        return "hb"
    if body in ("te", "tu"):
        return "te/tu"
    if isinstance(body, list) and body and isinstance(body[0], list):
        return "snapshot"
    return "ticker" if message[0] in ticker_channels else "other channel"


def coinbase_kind(message: dict[str, Any]) -> str:
    """What a decoded Coinbase frame is: its ``type``, with the ones we don't stream grouped."""
    kind = message["type"]
    if kind in ("ticker", "match", "heartbeat"):
        return kind
    return {"subscriptions": "ack", "last_match": "snapshot"}.get(kind, "other channel")


STREAM_KINDS = {"bitfinex": ("ticker", "hb", "te/tu"), "coinbase": ("ticker", "match", "heartbeat")}


def kinds_of(exchange: str, frames: list[str]) -> list[str]:
    """The kind of each frame, in order."""
    messages = [json.loads(frame, parse_float=Decimal) for frame in frames]
    if exchange == "coinbase":
        return [coinbase_kind(message) for message in messages]
    tickers = {message["chanId"] for message in messages if isinstance(message, dict)
               and message.get("event") == "subscribed" and message["channel"] == "ticker"}
    return [bitfinex_kind(message, tickers) for message in messages]


def feeds_of(frames: list[str]) -> dict[str, str]:
    """Every symbol the frames mention, mapped to a pair, so no frame is ignored as foreign."""
    symbols: dict[str, str] = {}
    for frame in frames:
        message = json.loads(frame)
        if isinstance(message, dict):
            symbol = message.get("symbol") or message.get("product_id")
            if symbol:
                symbols[symbol] = symbol.lstrip("t").replace(":", "-")
    return symbols


def docs_trades() -> tuple[str, list[str]]:
    """Bitfinex: an ack for the docs' trades chanId, and the docs' te and tu with a SEQ_ALL
    number appended (what cryptofeed's connections get; our parser ignores it)."""
    docs = documented_frames("bitfinex")
    ack = json.dumps({"event": "subscribed", "channel": "trades", "chanId": 17470,
                      "symbol": "tBTCUSD", "pair": "BTCUSD"})
    return ack, [docs[name][:-1] + f",{seq}]" for seq, name in enumerate(("te", "tu"), 1000)]


def frame_sets(exchange: str) -> tuple[list[str], dict[str, list[str]]]:
    """(setup frames replayed once before timing, {set name: frames})."""
    frames = recorded_frames(exchange, EXCERPTS[exchange])
    kinds = kinds_of(exchange, frames)
    stream = [frame for frame, kind in zip(frames, kinds, strict=True)
              if kind in STREAM_KINDS[exchange]]
    sets = {"stream": stream, "all": frames}
    for kind in STREAM_KINDS[exchange]:
        chosen = [frame for frame, k in zip(frames, kinds, strict=True) if k == kind]
        if chosen:
            sets[kind] = chosen
    setup = [frame for frame, kind in zip(frames, kinds, strict=True) if kind == "ack"]
    if exchange == "bitfinex":
        ack, trades = docs_trades()
        setup.append(ack)
        sets["te/tu (docs, not recorded)"] = trades
    return setup, sets


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


def breakdown(exchange: str, frame: str, receive: Callable[[str, datetime], Any],
              cryptofeed: Cryptofeed | None) -> dict[str, float]:
    """ns per part of reading one frame: what ``receive`` takes in all, and what the work every
    normalizer must do takes alone when done on this frame's values (orjson's decoding for
    Coinbase, a ``Decimal`` from text per exact number, the event time, the records); the rest
    is the text match (Bitfinex), field lookups, checks and dispatch. cryptofeed's decoding
    (yapic.json with ``parse_float=Decimal``) and its total for comparison."""
    received_at = datetime.now(UTC)
    records = receive(frame, received_at)
    decimals = list({id(value): value for record in records for value in _fields(record)
                     if isinstance(value, Decimal)}.values())
    texts = [str(value) for value in decimals]
    times = list({id(record.time): record.time for record in records
                  if record.time is not received_at}.values())
    parts = {"total": best_ns(lambda: receive(frame, received_at))}
    if exchange == "coinbase":
        parts["orjson"] = best_ns(lambda: orjson.loads(frame))
    if texts:
        parts[f"{len(texts)} Decimal(text)"] = best_ns(lambda: [Decimal(text) for text in texts])
    if times and exchange == "coinbase":
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


def print_breakdown(exchange: str, sets: dict[str, list[str]], session: Any,
                    cryptofeed: Cryptofeed | None) -> None:
    for kind in STREAM_KINDS[exchange]:
        if kind in sets:
            parts = breakdown(exchange, sets[kind][0], session.receive, cryptofeed)
            text = ", ".join(f"{name} {value:.0f}" for name, value in parts.items())
            print(f"{exchange:9s} {kind:7s} ns: {text}")


# The run ---------------------------------------------------------------------------------


def measure(exchange: str, seconds: float, cryptofeed: Cryptofeed | None) -> dict[str, Any]:
    """Both sides' best µs per message on each set of one exchange, rounds alternating."""
    setup, sets = frame_sets(exchange)
    left_out: dict[str, str] = {}
    if cryptofeed is not None:
        failed = cryptofeed.ask(op="load", exchange=exchange, setup=setup, sets=sets)["failed"]
        if failed.pop("setup"):
            raise RuntimeError(f"cryptofeed could not read the {exchange} acks")
        for index, error in failed.pop("all", []):
            left_out[sets["all"][index]] = error
        if any(failed.values()):
            raise RuntimeError(f"cryptofeed failed on stream frames: {failed}")
        if left_out:  # process what both can: the same frames on both sides
            sets["all"] = [frame for frame in sets["all"] if frame not in left_out]
            cryptofeed.ask(op="load", exchange=exchange, setup=setup, sets=sets)
    listener = LISTENERS[exchange]([], lambda record: None)
    session = listener.new_session(feeds_of(setup + sets["all"]))
    for frame in setup:
        session.receive(frame, datetime.now(UTC))
    ours = {name: OurReplay(session.receive, frames) for name, frames in sets.items()}
    for name, replay in ours.items():
        if failed_here := replay.failures(sets[name]):
            raise RuntimeError(f"our {exchange} session failed on {name} frames: {failed_here}")
    best: dict[str, dict[str, float]] = {name: {} for name in sets}
    for _ in range(ROUNDS):
        for name in sets:
            share = seconds / ROUNDS * (1 if name in ("stream", "all") else KIND_SHARE)
            _keep_best(best[name], "ours", ours[name].time(share))
            if cryptofeed is not None:
                _keep_best(best[name], "cryptofeed",
                           cryptofeed.ask(op="time", set=name, seconds=share)["us_per_msg"])
    return {"sets": sets, "best": best, "left_out": left_out, "session": session}


def _keep_best(best: dict[str, float], side: str, micros: float) -> None:
    best[side] = min(best.get(side, micros), micros)


def summary(exchange: str, result: dict[str, Any]) -> dict[str, Any]:
    """The JSON of one exchange (see the module docstring)."""
    best, sets = result["best"], result["sets"]

    def speedup(name: str) -> float | None:
        theirs = best[name].get("cryptofeed")
        return None if theirs is None else round(theirs / best[name]["ours"], 2)

    def rounded(name: str, side: str) -> float | None:
        value = best[name].get(side)
        return None if value is None else round(value, 3)

    return {
        "stream_us_per_msg": rounded("stream", "ours"),
        "cryptofeed_stream_us_per_msg": rounded("stream", "cryptofeed"),
        "speedup": speedup("stream"),
        "all_frames_us_per_frame": rounded("all", "ours"),
        "cryptofeed_all_frames_us_per_frame": rounded("all", "cryptofeed"),
        "all_frames_speedup": speedup("all"),
        "messages": len(sets["stream"]),
        "frames": len(sets["all"]),
        "kinds": {name: {"messages": len(sets[name]), "us_per_msg": rounded(name, "ours"),
                         "cryptofeed_us_per_msg": rounded(name, "cryptofeed"),
                         "speedup": speedup(name)}
                  for name in sets if name not in ("stream", "all")},
        "left_out": result["left_out"],
    }


def print_table(exchange: str, row: dict[str, Any], stream_kinds: list[str]) -> None:
    def cell(value: float | None, suffix: str = "") -> str:
        return f"{'-' if value is None else f'{value:.2f}{suffix}':>12}"

    print(f"{exchange:9s} {'stream: ' + ', '.join(stream_kinds):34s} {row['messages']:5d}"
          f"{cell(row['stream_us_per_msg'])}{cell(row['cryptofeed_stream_us_per_msg'])}"
          f"{cell(row['speedup'], 'x')}")
    print(f"{'':9s} {'all recorded frames (per frame)':34s} {row['frames']:5d}"
          f"{cell(row['all_frames_us_per_frame'])}"
          f"{cell(row['cryptofeed_all_frames_us_per_frame'])}"
          f"{cell(row['all_frames_speedup'], 'x')}")
    for name, kind in row["kinds"].items():
        print(f"{'':9s} {'  ' + name:34s} {kind['messages']:5d}{cell(kind['us_per_msg'])}"
              f"{cell(kind['cryptofeed_us_per_msg'])}{cell(kind['speedup'], 'x')}")
    for frame, error in row["left_out"].items():
        print(f"{'':9s}   left out of 'all' (cryptofeed raises {error}): {frame[:60]}")


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
                        help="timed seconds per side for each exchange's stream and all sets "
                             "(a per-kind row gets a third of it); default 3")
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
          f"\n{'exchange':9s} {'set':34s} {'msgs':>5s}{'ours':>12s}{'cryptofeed':>12s}"
          f"{'speedup':>12s}")
    rows, results = {}, {}
    try:
        for exchange in EXCERPTS:
            results[exchange] = measure(exchange, args.seconds, cryptofeed)
            rows[exchange] = summary(exchange, results[exchange])
            stream = [kind for kind in STREAM_KINDS[exchange] if kind in rows[exchange]["kinds"]]
            print_table(exchange, rows[exchange], stream)
        if args.breakdown:
            print("where one frame's time goes (ns; 'rest' is matching, lookups, checks, calls):")
            for exchange, result in results.items():
                if cryptofeed is not None:  # the driver's feed for this exchange again
                    cryptofeed.ask(op="load", exchange=exchange, setup=frame_sets(exchange)[0],
                                   sets=result["sets"])
                print_breakdown(exchange, result["sets"], result["session"], cryptofeed)
    finally:
        if cryptofeed is not None:
            cryptofeed.close()
    for exchange, row in rows.items():
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
