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

from dotenv import find_dotenv, load_dotenv
from flask import Flask

from .connections import raise_open_files_limit
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
    web.extensions["dashboard"].start()
    return web


load_dotenv(find_dotenv(usecwd=True))
app = create_gunicorn_app(dict(os.environ))
