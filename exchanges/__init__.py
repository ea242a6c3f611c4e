"""Exchange listeners, one module per exchange, registered here by their lower-case name."""

from __future__ import annotations

from .base import ExchangeListener
from .binance import Binance, BinanceUS
from .bitfinex import Bitfinex
from .bitstamp import Bitstamp
from .bybit import Bybit
from .coinbase import Coinbase
from .gemini import Gemini
from .kraken import Kraken
from .okx import Okx

LISTENERS: dict[str, type[ExchangeListener]] = {
    listener.name: listener for listener in (Bitfinex, Coinbase, Bybit, Kraken, Okx, Gemini,
                                          Bitstamp, Binance, BinanceUS)
}

__all__ = ["LISTENERS", "ExchangeListener"]
