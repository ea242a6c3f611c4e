"""Building the exchange listeners from the settings: the one place that knows how.

The dashboard, the ``record`` command and the ``snapshot`` command all build their listeners
here, so a setting (a URL override, ``<NAME>_PAIRS``, the feed timeout) means the same in each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exchanges import LISTENERS, ExchangeListener
from exchanges.base import Publish

from .settings import Settings


def build_listeners(settings: Settings, publish: Publish, *,
                    exchanges: Sequence[str] | None = None, pairs: Sequence[str] | None = None,
                    **options: Any) -> list[ExchangeListener]:
    """One listener per exchange of ``exchanges`` (default: the configured ones), in order.

    Each streams ``pairs`` if given, else ``settings.pairs_for(name)``; ``options`` (``sleep``,
    ``spawn``, ``connect_timeout``, ``url``...) are passed to every listener and win over the
    settings.
    """
    listeners = []
    for name in exchanges or settings.exchanges:
        arguments: dict[str, Any] = {
            "url": settings.ws_urls.get(name),
            "rest_url": settings.rest_urls.get(name),
            "feed_timeout": settings.feed_timeout,
            **options,
        }
        chosen = settings.pairs_for(name) if pairs is None else pairs
        listeners.append(LISTENERS[name](chosen, publish, **arguments))
    return listeners
