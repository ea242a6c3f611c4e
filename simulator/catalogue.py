"""The products the simulated exchanges list: which pairs exist, where they start, their ticks.

Every simulated exchange lists this set (7 bases against USD, EUR and USDT) unless its
``ExchangeSpec.products`` says otherwise; anything else is an unknown product and each protocol
rejects it the way its real exchange does. Pairs are
our canonical ``BASE-QUOTE`` spelling; each protocol module maps them to its own symbols.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# base -> (start price in USD, quote tick in USD); ticks follow Coinbase's quote increments.
_BASES: dict[str, tuple[str, str]] = {
    "BTC": ("43000", "0.01"),
    "ETH": ("2300", "0.01"),
    "SOL": ("98", "0.01"),
    "LTC": ("72", "0.01"),
    "XRP": ("0.62", "0.0001"),
    "DOGE": ("0.085", "0.00001"),
    "ADA": ("0.58", "0.0001"),
}
# quote -> price of one USD in that quote
_QUOTES: dict[str, str] = {"USD": "1", "EUR": "0.92", "USDT": "1.0005"}

# amounts are quantised to 8 decimals, like both exchanges' base increments for these coins
SIZE_STEP = Decimal("0.00000001")

# The shared reference market (``simulator.reference``) walks each base in USD from these
# prices and converts to a quote with these rates, so every venue quotes the same market.
BASE_USD: dict[str, Decimal] = {base: Decimal(price) for base, (price, _) in _BASES.items()}
QUOTE_RATES: dict[str, Decimal] = {quote: Decimal(rate) for quote, rate in _QUOTES.items()}


@dataclass(frozen=True, slots=True)
class Product:
    """One listed pair: where its random walk starts and the grid its prices live on."""

    pair: str
    start_price: Decimal
    tick: Decimal


def _build() -> dict[str, Product]:
    products: dict[str, Product] = {}
    for base, (usd_price, tick) in _BASES.items():
        for quote, usd_rate in _QUOTES.items():
            pair = f"{base}-{quote}"
            step = Decimal(tick)
            start = (Decimal(usd_price) * Decimal(usd_rate)).quantize(step)
            products[pair] = Product(pair=pair, start_price=start, tick=step)
    return products


PRODUCTS: dict[str, Product] = _build()


def split_pair(pair: str) -> tuple[str, str]:
    """Split a canonical ``BASE-QUOTE`` pair into its two currency codes."""
    base, _, quote = pair.partition("-")
    return base, quote
