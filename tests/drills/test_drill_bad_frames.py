"""Drill: malformed, truncated and oversized (10 MB) frames in the exchanges' streams.

A TCP proxy between the server and the simulated exchanges slips raw websocket frames into
each stream at frame boundaries: text that is not JSON, JSON of the wrong shape, real frames cut
short, invalid UTF-8, binary frames, and 10 MB frames. The server must count each one under its
feed (``/healthz`` ``feeds.<exchange>.malformed``), skip it, keep the feed connected and
streaming, log at most one line per feed per minute for all of it (here with ``LOG_FORMAT=json``:
every line a JSON object, the exchange and the reason fields of their own), and keep its memory
bounded:
thirty 10 MB frames may not cost more than a burst's worth each, and the last ten, the same as
the ten before them, cost nothing those did not.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_until
from tests.drills.conftest import port_of, rss_bytes

pytestmark = [pytest.mark.drill, pytest.mark.e2e]

EXCHANGES = ("bitfinex", "coinbase")
PAIR = "BTC-USD"
MIB = 1 << 20
OVERSIZED = 10 * MIB

MALFORMED = ["not json {", '{"type": 5}', '"just a string"', "[123456789, [1, 2]]", "{}", "[]",
             "null", "1e999999999", '{"event":"subscribed","chanId":"x"}']
TRUNCATED = [
    '{"type":"ticker","sequence":1,"product_id":"BTC-USD","price":"4000',
    '[17470,"te",[401597395,1574694478808,0.005,72',
    '{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66',
]


def malformed(server, name: str) -> int:
    return server.health()["feeds"][name]["malformed"]


def test_bad_frames_are_counted_skipped_and_bounded(simulator, fault_proxy, server_on_simulator,
                                                    socket_client):
    proxy = fault_proxy(port_of(simulator.url))
    server = server_on_simulator(PAIRS=PAIR, BITFINEX_WS_URL=proxy.url("bitfinex"),
                                 COINBASE_WS_URL=proxy.url("coinbase"), LOG_FORMAT="json")
    log = socket_client(server)
    for name in EXCHANGES:
        log.wait_for("status", exchange=name, pair=PAIR, state="live")
    pid = server.process.popen.pid
    links = len(proxy.links)
    assert links == 2

    sent = 0
    for frame in MALFORMED + TRUNCATED:
        proxy.inject(frame)
        sent += 1
    proxy.inject(b'["\xff\xfe broken utf-8 \xc3"]')
    proxy.inject(b"\x00\x01\x02 binary", opcode=0x2)
    sent += 2
    # Bitfinex ignores a data frame of a channel it never subscribed (the fourth): not an error
    wait_until(lambda: all(malformed(server, name) >= sent - 1 for name in EXCHANGES),
               timeout=10, message="every small bad frame counted")

    baseline = rss_bytes(pid)
    counted = {name: malformed(server, name) for name in EXCHANGES}
    for _ in range(10):
        proxy.inject(b"x" * OVERSIZED)
    sent += 10
    wait_until(lambda: all(malformed(server, name) >= counted[name] + 10 for name in EXCHANGES),
               timeout=60, message="ten 10 MB frames counted")
    after_ten = rss_bytes(pid)
    after_mixed = []
    for _ in range(2):  # the same ten twice: the second may cost nothing the first did not
        counted = {name: malformed(server, name) for name in EXCHANGES}
        proxy.inject(("[" * 10 + "1" + "]" * 10).encode() + b" " * OVERSIZED)  # valid JSON, huge
        for _ in range(9):
            proxy.inject(b'{"type":"ticker","product_id":"BTC-USD","junk":"' + b"y" * OVERSIZED
                         + b'"}')
        sent += 10
        wait_until(lambda counted=counted: all(malformed(server, name) >= counted[name] + 9
                                               for name in EXCHANGES),
                   timeout=60, message="ten more 10 MB frames counted")
        after_mixed.append(rss_bytes(pid))

    # the feeds never dropped, and still stream
    for name in EXCHANGES:
        trade = simulator.control(f"{name}/trade", pair=PAIR, price="42424.5", amount="0.1")
        log.wait_for("trade", exchange=name, id=str(trade["trade_id"]), timeout=15)
        feed = server.health()["feeds"][name]
        assert feed["state"] == "live" and feed["reconnects"] == 0, feed
        assert feed["malformed"] >= sent - 2, (name, feed["malformed"], sent)  # see above
    output = server.process.output()
    entries = [json.loads(line) for line in output.splitlines()]  # LOG_FORMAT=json: all JSON
    skipped = [e for e in entries if e["message"].startswith("malformed frame skipped")]
    assert sorted(e["exchange"] for e in skipped) == sorted(EXCHANGES)  # one per feed a minute
    assert all(e["reason"] and e["level"] == "WARNING" for e in skipped)
    assert max(len(line) for line in output.splitlines()) < 2000  # no 10 MB log line
    # a burst may grow the heap once (the allocator keeps what a 10 MB string needed); the same
    # burst again must not grow it further: nothing of a skipped frame is kept
    growth_first, growth_mixed = after_ten - baseline, after_mixed[0] - after_ten
    growth_again = after_mixed[1] - after_mixed[0]
    assert growth_first < 80 * MIB, f"+{growth_first / MIB:.0f} MiB for ten 10 MB frames"
    assert growth_mixed < 80 * MIB, f"+{growth_mixed / MIB:.0f} MiB for ten other ones"
    assert growth_again < 25 * MIB, f"+{growth_again / MIB:.0f} MiB for the same ten again"
    print(f"{sent} bad frames per feed counted and skipped; RSS {baseline / MIB:.0f} MiB, "
          f"{after_ten / MIB:.0f} MiB after ten 10 MB frames, {after_mixed[0] / MIB:.0f} MiB "
          f"after twenty, {after_mixed[1] / MIB:.0f} MiB after thirty; one log line per feed")
