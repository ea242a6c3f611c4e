"""Turn what a user types for a pair into our canonical ``BASE-QUOTE`` form.

Accepted spellings: ``BTC-USD``, ``btc-usd``, ``BTC/USD``, ``BTC_USD``, ``btcusd`` (split at a known
quote currency) and Bitfinex's native ``tBTCUSD`` / ``tDOGE:USD``. Each exchange module then maps
the canonical pair to its own symbol; this module knows nothing about any one exchange's list.
"""

from __future__ import annotations

import re

# Quote currencies we can split a run-together symbol at, longest first so that
# ``BTCUSDT`` splits as BTC + USDT, not BTCU + SDT or BTC + USD + T.
KNOWN_QUOTES = (
    "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "DAI", "UST", "USD", "EUR", "GBP", "JPY", "CHF",
    "AUD", "CAD", "TRY", "BRL", "BTC", "ETH",
)  # fmt: skip
_QUOTES_LONGEST_FIRST = sorted(KNOWN_QUOTES, key=len, reverse=True)

_CODE = re.compile(r"[A-Z0-9]{2,12}")
_SEPARATED = re.compile(r"^([A-Za-z0-9]+)[-/_:]([A-Za-z0-9]+)$")
_BITFINEX_NATIVE = re.compile(r"^t([A-Z0-9]{2,12})(?::([A-Z0-9]{2,12}))?$")


class PairError(ValueError):
    """The text cannot be read as a pair; the message says why, for the page and the log."""


def parse_pair(text: str) -> str:
    """Return the canonical ``BASE-QUOTE`` for ``text``; raise ``PairError`` saying why not."""
    raw = text.strip()
    if not raw:
        raise PairError("empty pair")
    native = _BITFINEX_NATIVE.match(raw)
    if native:
        base, quote = native.groups()
        return _join(raw, base, quote) if quote else _split_joined(raw, base)
    separated = _SEPARATED.match(raw)
    if separated:
        return _join(raw, separated.group(1).upper(), separated.group(2).upper())
    if raw.isalnum():
        return _split_joined(raw, raw.upper())
    raise PairError(f"cannot read {raw!r} as a pair: use BASE-QUOTE, e.g. BTC-USD")


def split_pair(pair: str) -> tuple[str, str]:
    """Split a canonical pair into (base, quote)."""
    base, _, quote = pair.partition("-")
    return base, quote


def _join(raw: str, base: str, quote: str) -> str:
    for code in (base, quote):
        if not _CODE.fullmatch(code):
            raise PairError(f"cannot read {raw!r} as a pair: {code!r} is not a currency code")
    if base == quote:
        raise PairError(f"cannot read {raw!r} as a pair: base and quote are both {base}")
    return f"{base}-{quote}"


def _split_joined(raw: str, joined: str) -> str:
    # a base of three letters or more first, so that Kraken's XBTUSD is XBT + USD, not XB + TUSD;
    # then two (OPUSDT is OP + USDT)
    for shortest_base in (3, 2):
        for quote in _QUOTES_LONGEST_FIRST:
            if joined.endswith(quote) and len(joined) - len(quote) >= shortest_base:
                return _join(raw, joined[: -len(quote)], quote)
    raise PairError(
        f"cannot tell base from quote in {raw!r}: write it as BASE-QUOTE, e.g. BTC-USD"
    )
