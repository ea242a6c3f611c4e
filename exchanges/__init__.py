"""Exchange listeners, one module per exchange, registered here by their lower-case name."""

from __future__ import annotations

from .base import ExchangeListener
from .bitfinex import Bitfinex
from .coinbase import Coinbase

LISTENERS: dict[str, type[ExchangeListener]] = {
    listener.name: listener for listener in (Bitfinex, Coinbase)
}

__all__ = ["LISTENERS", "ExchangeListener"]
