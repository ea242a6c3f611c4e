"""The exchanges the simulator serves, by the path segment clients connect to.

Adding an exchange: write ``simulator/<name>.py`` with a ``Peer`` subclass and a ``SPEC``, and
list it here; the server, control API and stats pick it up from this mapping.
"""

from __future__ import annotations

from simulator import binance, bitfinex, bitstamp, bybit, coinbase, gemini, kraken, okx
from simulator.peer import ExchangeSpec

EXCHANGES: dict[str, ExchangeSpec] = {
    spec.name: spec
    for spec in (
        bitfinex.SPEC,
        coinbase.SPEC,
        kraken.SPEC,
        bybit.SPEC,
        okx.SPEC,
        gemini.SPEC,
        bitstamp.SPEC,
        binance.SPEC, binance.SPEC_US,
    )
}
