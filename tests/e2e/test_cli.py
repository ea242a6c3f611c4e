"""``python server.py snapshot|record`` as subprocesses against the simulator, and the
dashboard's start-up REST snapshot seen by a real Socket.IO client."""

from __future__ import annotations

import csv
import io
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Server, Simulator, base_env, free_port, wait_until

pytestmark = pytest.mark.e2e

CSV_FIELDS = ["record", "exchange", "symbol", "pair", "datetime", "price", "volume", "bid", "ask",
              "is_buy"]


def simulator_env(simulator: Simulator) -> dict[str, str]:
    return {
        "BITFINEX_REST_URL": f"{simulator.http}/bitfinex",
        "COINBASE_REST_URL": f"{simulator.http}/coinbase",
        "BITFINEX_WS_URL": simulator.ws_url("bitfinex"),
        "COINBASE_WS_URL": simulator.ws_url("coinbase"),
    }


@pytest.fixture
def cli(simulator: Simulator, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``server.py <args>`` to completion with every URL pointed at the simulator."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "server.py"), *args], cwd=tmp_path,
            env={**base_env(), **simulator_env(simulator), **env},
            capture_output=True, text=True, timeout=60,
        )

    return run


def plain(text: str) -> str:
    """A decimal as Bitfinex writes it (a JSON number: no trailing zeros)."""
    value = format(Decimal(text).normalize(), "f")
    return "0" if value in ("-0", "0") else value


def millis(iso_micros: str) -> str:
    """The simulator's ``...:05.685123Z`` as the output's ISO-8601 with milliseconds."""
    return iso_micros[:23] + "Z"


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# snapshot --------------------------------------------------------------------------------


FIVE = {  # typed spelling -> (pair, Bitfinex symbol, price, amount, taker side)
    "btcusd": ("BTC-USD", "tBTCUSD", "43210.50", "0.00012", "buy"),
    "ETH-USD": ("ETH-USD", "tETHUSD", "2301.07", "1.50000000", "sell"),
    "tSOLUSD": ("SOL-USD", "tSOLUSD", "98.25", "3", "buy"),
    "ltc/usd": ("LTC-USD", "tLTCUSD", "72.5", "0.3", "sell"),
    "tDOGE:USD": ("DOGE-USD", "tDOGE:USD", "0.08512", "12000", "buy"),
}


def test_five_symbols_in_one_command_give_the_original_programs_fields(simulator, cli):
    injected = {}
    for pair, _, price, amount, side in FIVE.values():
        injected[pair] = simulator.control("bitfinex/trade", pair=pair, price=price,
                                           amount=amount, side=side)
    started = datetime.now(UTC)
    result = cli("snapshot", *FIVE)
    finished = datetime.now(UTC)
    assert (result.returncode, result.stderr) == (0, "")
    output = json.loads(result.stdout)
    assert list(output) == ["tickers", "trades"]

    expected_tickers = []
    for pair, symbol, price, _, _ in FIVE.values():
        state = injected[pair]["state"]
        expected_tickers.append({
            "exchange": "bitfinex", "symbol": symbol, "pair": pair, "datetime": "(receive time)",
            "price": plain(price), "volume": plain(state["volume_24h"]),
            "bid": plain(state["bid"]), "ask": plain(state["ask"]),
        })
    tickers = output["tickers"]
    for ticker in tickers:  # Bitfinex's REST ticker has no time: it is stamped on receipt
        assert started.replace(microsecond=0) <= parse_time(ticker["datetime"]) <= finished
        ticker["datetime"] = "(receive time)"
    assert tickers == expected_tickers

    trades = output["trades"]
    assert all(list(trade) == ["exchange", "symbol", "pair", "datetime", "price", "volume",
                               "is_buy"] for trade in trades)
    for pair, symbol, price, amount, side in FIVE.values():
        mine = [trade for trade in trades if trade["pair"] == pair]
        assert len(mine) == 25  # the default --trades, oldest first
        assert [t["datetime"] for t in mine] == sorted(t["datetime"] for t in mine)
        assert mine[-1] == {
            "exchange": "bitfinex", "symbol": symbol, "pair": pair,
            "datetime": millis(injected[pair]["time"]), "price": plain(price),
            "volume": plain(amount), "is_buy": side == "buy",
        }
    assert [t["pair"] for t in trades] == [pair for pair, *_ in FIVE.values() for _ in range(25)]


def test_coinbase_snapshot_keeps_its_strings_and_turns_the_makers_side(simulator, cli):
    buy = simulator.control("coinbase/trade", pair="ETH-EUR", price="2116.40", amount="0.50",
                            side="buy")
    sell = simulator.control("coinbase/trade", pair="ETH-EUR", price="2116.10",
                             amount="1.25000000", side="sell")
    result = cli("snapshot", "--exchange", "coinbase", "--trades", "2", "eth/eur")
    assert (result.returncode, result.stderr) == (0, "")
    state = sell["state"]
    row = {"exchange": "coinbase", "symbol": "ETH-EUR", "pair": "ETH-EUR"}
    assert json.loads(result.stdout) == {
        "tickers": [{**row, "datetime": millis(sell["time"]), "price": "2116.10",
                     "volume": state["volume_24h"], "bid": state["bid"], "ask": state["ask"]}],
        "trades": [
            {**row, "datetime": millis(buy["time"]), "price": "2116.40", "volume": "0.50",
             "is_buy": True},
            {**row, "datetime": millis(sell["time"]), "price": "2116.10",
             "volume": "1.25000000", "is_buy": False},
        ],
    }


def test_bad_symbols_are_named_on_stderr_and_the_others_printed(cli):
    result = cli("snapshot", "--trades", "1", "btcusd", "foo-bar", "not a pair!", "eth-usd")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "server.py snapshot: bitfinex 'not a pair!': cannot read 'not a pair!' as a pair: "
        "use BASE-QUOTE, e.g. BTC-USD",
        "server.py snapshot: bitfinex 'foo-bar' (FOO-BAR): symbol: invalid (code 10020, HTTP 500)",
    ]
    output = json.loads(result.stdout)
    assert [t["pair"] for t in output["tickers"]] == ["BTC-USD", "ETH-USD"]
    assert [t["pair"] for t in output["trades"]] == ["BTC-USD", "ETH-USD"]

    result = cli("snapshot", "--exchange", "coinbase", "--trades", "1", "FOO-BAR", "BTC-USD")
    assert result.returncode == 2
    assert result.stderr == "server.py snapshot: coinbase 'FOO-BAR': NotFound (HTTP 404)\n"
    assert [t["pair"] for t in json.loads(result.stdout)["tickers"]] == ["BTC-USD"]


@pytest.mark.parametrize("exchange", ["bitfinex", "coinbase"])
def test_rest_failing_twice_then_recovering_still_succeeds(exchange, simulator, cli):
    simulator.control(f"{exchange}/fail_rest", count=2)
    result = cli("snapshot", "--exchange", exchange, "--trades", "3", "BTC-USD")
    assert result.returncode == 0, result.stderr
    retries = [line for line in result.stderr.splitlines() if "rest retry" in line]
    assert len(retries) == 2 and all("attempt=" in line and "HTTP 503" in line
                                     for line in retries)
    output = json.loads(result.stdout)
    assert (len(output["tickers"]), len(output["trades"])) == (1, 3)
    assert simulator.control("stats")[exchange]["rest_failures_left"] == 0


def test_a_download_that_keeps_failing_is_reported_with_exit_1(simulator, cli):
    simulator.control("bitfinex/fail_rest", count=1000)
    started = time.monotonic()
    result = cli("snapshot", "--timeout", "1.5", "BTC-USD", "ETH-USD")
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"tickers": [], "trades": []}
    failed = [line for line in result.stderr.splitlines() if "download failed" in line]
    assert [line.split(": download failed: ")[0] for line in failed] == [
        "server.py snapshot: bitfinex 'BTC-USD'", "server.py snapshot: bitfinex 'ETH-USD'"]
    assert "Service Unavailable (simulated) (HTTP 503)" in failed[0]
    simulator.control("bitfinex/fail_rest", count=0)

    closed = f"http://127.0.0.1:{free_port()}/bitfinex"
    result = cli("snapshot", "--timeout", "1", "BTC-USD", BITFINEX_REST_URL=closed)
    assert result.returncode == 1
    assert "Connection refused" in result.stderr


def test_csv_is_one_table_with_a_record_column(simulator, cli):
    simulator.control("coinbase/trade", pair="XRP-USD", price="0.6201", amount="100", side="buy")
    args = ("snapshot", "--exchange", "coinbase", "--trades", "4", "XRP-USD", "ada-usd")
    as_json = json.loads(cli(*args).stdout)
    result = cli(*args, "--format", "csv")
    assert result.returncode == 0, result.stderr
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert reader.fieldnames == CSV_FIELDS
    rows = list(reader)
    assert [row["record"] for row in rows] == ["ticker"] * 2 + ["trade"] * 8
    expected = [{"record": "ticker", **ticker, "is_buy": ""} for ticker in as_json["tickers"]]
    expected += [{"record": "trade", **trade, "bid": "", "ask": "",
                  "is_buy": "true" if trade["is_buy"] else "false"}
                 for trade in as_json["trades"]]
    assert rows == expected
    assert rows[5] == {"record": "trade", "exchange": "coinbase", "symbol": "XRP-USD",
                       "pair": "XRP-USD", "datetime": rows[5]["datetime"], "price": "0.6201",
                       "volume": "100", "bid": "", "ask": "", "is_buy": "true"}


def test_bad_arguments_exit_2(cli):
    assert cli("snapshot").returncode == 2  # no symbol
    result = cli("snapshot", "--exchange", "mtgox", "BTC-USD")
    assert result.returncode == 2 and "unknown exchange 'mtgox'" in result.stderr
    result = cli("snapshot", "BTC-USD", BITFINEX_REST_URL="ftp://x")
    assert result.returncode == 2 and "BITFINEX_REST_URL" in result.stderr


# record ----------------------------------------------------------------------------------


class Lines:
    """A child's stdout read on a thread, one JSON line at a time."""

    def __init__(self, popen: subprocess.Popen[str], log_path: Path) -> None:
        self.log_path = log_path
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, args=(popen,), daemon=True).start()

    def _read(self, popen: subprocess.Popen[str]) -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            self.lines.put(json.loads(line))

    def until(self, match: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict:
        """The first line, seen already or still to come, that ``match`` accepts."""
        for line in self.seen:
            if match(line):
                return line
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if match(line):
                return line
        pytest.fail(f"no such line; last ones: {self.seen[-5:]}\nstderr:\n"
                    f"{self.log_path.read_text()}")


@pytest.fixture
def record(simulator: Simulator, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str, **env: str) -> tuple[subprocess.Popen[str], Lines]:
        log_path = tmp_path / f"record-{len(processes)}.log"
        popen = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "record", *args], cwd=tmp_path,
            env={**base_env(), **simulator_env(simulator), **env}, stdout=subprocess.PIPE,
            stderr=log_path.open("w"), text=True,
        )
        processes.append(popen)
        return popen, Lines(popen, log_path)

    yield start
    for popen in processes:
        if popen.poll() is None:
            popen.kill()
            popen.wait(5)


def test_record_streams_json_lines_and_exits_0_on_sigint(simulator, record, tmp_path):
    popen, lines = record("--exchange", "bitfinex,coinbase", "BTC-USD")
    for exchange in ("bitfinex", "coinbase"):
        lines.until(lambda line, exchange=exchange: line == {
            **line, "record": "status", "exchange": exchange, "pair": "BTC-USD",
            "state": "live"})
    trade = simulator.control("coinbase/trade", pair="BTC-USD", price="41000.25",
                              amount="0.5", side="sell")
    line = lines.until(lambda line: line.get("id") == str(trade["trade_id"]))
    assert line == {"record": "trade", "exchange": "coinbase", "pair": "BTC-USD",
                    "symbol": "BTC-USD", "time": millis(trade["time"]),
                    "id": str(trade["trade_id"]), "price": "41000.25", "amount": "0.5",
                    "side": "sell"}
    # the REST snapshot ran beside the websocket: its ticker and trade GETs were made
    wait_until(lambda: simulator.control("stats")["bitfinex"]["rest_requests"] >= 2)
    popen.send_signal(signal.SIGINT)
    assert popen.wait(10) == 0
    assert "Traceback" not in lines.log_path.read_text()


def test_record_exits_0_on_sigterm_too(record):
    popen, lines = record("--exchange", "coinbase", "ETH-USD")
    lines.until(lambda line: line.get("state") == "live" and line["pair"] == "ETH-USD")
    popen.terminate()
    assert popen.wait(10) == 0


# the dashboard's start-up snapshot -------------------------------------------------------


def test_server_start_up_publishes_the_rest_snapshot_before_any_websocket_update(
        simulator, start_server, socket_client):
    simulator.control("bitfinex/silence", seconds=60)  # the websocket will say nothing at all
    quote = simulator.control("bitfinex/ticker", pair="BTC-USD", bid="42000.1", ask="42000.3",
                              last="42000.2")["state"]
    trade = simulator.control("bitfinex/trade", pair="BTC-USD", price="42000.2",
                              amount="0.75", side="sell")
    server: Server = start_server({
        "EXCHANGES": "bitfinex", "PAIRS": "BTC-USD",
        "BITFINEX_WS_URL": simulator.ws_url("bitfinex"),
        "BITFINEX_REST_URL": f"{simulator.http}/bitfinex",
    })
    log = socket_client(server)
    ticker = log.wait_for("ticker", exchange="bitfinex", pair="BTC-USD")
    assert {key: ticker[key] for key in ("symbol", "bid", "ask", "last", "volume_24h")} == {
        "symbol": "tBTCUSD", "bid": "42000.1", "ask": "42000.3", "last": "42000.2",
        "volume_24h": plain(trade["state"]["volume_24h"]),
    }
    assert plain(quote["volume_24h"]) != ticker["volume_24h"]  # the trade's amount is in it
    shown = log.wait_for("trade", exchange="bitfinex", id=str(trade["trade_id"]))
    assert (shown["price"], shown["amount"], shown["side"]) == ("42000.2", "0.75", "sell")
    # the websocket is connected but silent: nothing it sent could have made these rows
    wait_until(lambda: simulator.control("stats")["bitfinex"]["connections"] == 1)
    assert log.of("status", exchange="bitfinex", pair=None, state="live") == []
    assert server.health()["feeds"]["bitfinex"]["messages"] == 0
