"""Security headers on every response: the page, its assets, the API, Socket.IO and errors.

A WSGI middleware, outermost, so nothing the server answers escapes it (Flask's 404 and 500
pages, Engine.IO's 400s, the 503 of ``ClientCap``):

- ``Content-Security-Policy``: scripts, styles, images and fonts from our own origin only (the
  page has no inline script or style; Bootstrap's CSS draws a few icons from ``data:`` URIs),
  connections to our own origin only (``ws:``/``wss:`` to the same host for Socket.IO, listed
  explicitly for browsers whose ``'self'`` does not cover websockets), no plugins, no
  ``<base>``, forms only to ourselves, and ``frame-ancestors`` from ``FRAME_ANCESTORS``
  (``'none'`` by default).
- ``X-Frame-Options``: ``DENY`` by default, ``SAMEORIGIN`` for ``FRAME_ANCESTORS='self'``, and
  left out for any other list (it can't name origins; browsers that know CSP use it instead).
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
  ``Cross-Origin-Opener-Policy: same-origin``.

A header the application already set is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# a Host header we are willing to repeat in the policy: a name or IPv4 address, or [IPv6], and
# an optional port; anything else gets 'self' alone
_HOST = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def frame_ancestors_value(sources: Sequence[str]) -> str:
    """The ``frame-ancestors`` sources for ``FRAME_ANCESTORS``: ``'none'`` when empty."""
    if not sources or [source.lower() for source in sources] in (["'none'"], ["none"]):
        return "'none'"
    return " ".join(sources)


class SecureHeaders:
    """WSGI middleware adding the headers above to every response of ``app``."""

    def __init__(self, app: WsgiApp, frame_ancestors: Sequence[str] = ()) -> None:
        self.app = app
        ancestors = frame_ancestors_value(frame_ancestors)
        self._policy_head = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                             "img-src 'self' data:; font-src 'self'; connect-src 'self'")
        self._policy_tail = ("; object-src 'none'; base-uri 'none'; form-action 'self'; "
                             f"frame-ancestors {ancestors}")
        fixed = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                 ("Cross-Origin-Opener-Policy", "same-origin")]
        if ancestors == "'none'":
            fixed.append(("X-Frame-Options", "DENY"))
        elif ancestors == "'self'":
            fixed.append(("X-Frame-Options", "SAMEORIGIN"))
        self._fixed = fixed

    def policy(self, host: str | None) -> str:
        """The Content-Security-Policy for a request to ``host`` (its Host header)."""
        sockets = f" ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else ""
        return self._policy_head + sockets + self._policy_tail

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            added = [("Content-Security-Policy", self.policy(environ.get("HTTP_HOST"))),
                     *self._fixed]
            headers = [*headers, *(item for item in added if item[0].lower() not in present)]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
