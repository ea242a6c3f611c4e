"""Built-in simulated exchanges that speak the real exchanges' public websocket protocols.

``python -m simulator`` serves every exchange of ``registry`` (``/bitfinex``, ``/coinbase``, ...)
on one loopback port, all quoting one seeded market (a shared reference price per coin, each
venue a few basis points off it), plus a small HTTP control API
(``/control/...``) that tests use to inject exact trades, drop or silence connections and send
garbage. ``server.py --demo`` runs it as a child process so the dashboard works offline; the
test suite runs the very same code, so a demo and a test never exercise different fakes.

Layout (one job per module):
    wire        exact JSON rendering of Decimals and exchange time formats
    catalogue   which pairs exist, their start prices and ticks
    reference   one USD price walk per base currency, shared by every venue (thread-safe)
    market      each venue's pairs on top of the reference: basis, noise, spread, trades
    peer        the sans-I/O contract every protocol module implements
    bitfinex    Bitfinex API v2 public protocol peer
    coinbase    Coinbase Exchange ws-feed protocol peer
    registry    the list of exchanges the server offers (add one here)
    engine      one exchange's live state: market, connections, lock, rate, silence
    outbox      per-connection queue of frames due now or later
    control     the HTTP control routes
    server      the websockets server: routing, per-connection threads, the clock
"""
