"""A web node under gunicorn: ``gunicorn -k gevent -w 1 -b 127.0.0.1:5001 'dashboard.wsgi:app'``.

One worker per process, as Flask-SocketIO requires (run more processes behind nginx for more
browsers, see ``deploy/``); gunicorn's gevent worker monkey patches before it imports this.
Settings come from the environment and ``.env`` as for ``server.py``; ``ROLE`` may be unset
or ``web`` (a collector or ``--role all`` runs with ``python server.py``, which stops its
storage and listeners gracefully), ``ASYNC_MODE`` is gevent whatever it says, and gunicorn's
``--bind`` replaces ``HOST``/``PORT``. The node starts when the worker imports ``app``.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from typing import Any

from dotenv import find_dotenv, load_dotenv
from flask import Flask

from . import concurrency
from .connections import ClientLimits, raise_open_files_limit
from .logs import setup_logging
from .roles import create_role_app
from .settings import Settings


def create_gunicorn_app(env: dict[str, str]) -> Flask:
    """The web node's app, started; refuses a role or async mode gunicorn can't run."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        raise RuntimeError("dashboard.wsgi needs gunicorn's gevent worker: gunicorn -k gevent")
    settings = Settings.from_env({"ROLE": "web", **env, "ASYNC_MODE": "gevent"})
    if settings.role != "web":
        raise RuntimeError(f"dashboard.wsgi runs web nodes only, not ROLE={settings.role}: "
                           "start collectors with 'python server.py --role collector'")
    settings = dataclasses.replace(settings, async_mode="gevent")
    setup_logging(settings.log_level, settings.log_format)
    raise_open_files_limit()
    web = create_role_app(settings)
    node = web.extensions["dashboard"]
    node.start()
    close_browsers_on_sigterm(node, web.extensions["client_limits"])
    return web


def close_browsers_on_sigterm(node: Any, limits: ClientLimits) -> None:
    """On SIGTERM gunicorn's worker stops accepting and then waits up to its graceful timeout
    (30 s by default) for every open request to end, and a browser's websocket never ends by
    itself: the pages would stay on a node that is going away. So the node first closes every
    browser's connection (``WebNode.stop``: the pages reconnect at once, through nginx to
    another node; this one answers new sessions 503 meanwhile), and gunicorn's own handler goes
    on as before. Gunicorn installs its handlers before it imports the app, so ``previous`` is
    the worker's."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        limits.stopping = True
        concurrency.spawn(node.stop)  # a task: a signal handler must not wait
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


load_dotenv(find_dotenv(usecwd=True))
app = create_gunicorn_app(dict(os.environ))
