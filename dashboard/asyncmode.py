"""Which async mode ``server.py`` patches in, decided before anything else is imported.

Standard library only (``os``): it runs before the monkey patch, when importing logging,
threading or socket would be too early. ``Settings`` reads ``ASYNC_MODE`` again after
``.env`` is loaded, and ``server.py`` refuses to start when the two disagree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence


def requested_async_mode(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """``--async-mode``, else ``ASYNC_MODE`` from the environment, else from the nearest
    ``.env`` (read by hand: python-dotenv would import logging and threading before the
    patch), else eventlet. ``Settings`` reads the same setting again and must agree."""
    for index, arg in enumerate(argv):
        if arg == "--async-mode" and index + 1 < len(argv):
            return argv[index + 1].strip().lower()
        if arg.startswith("--async-mode="):
            return arg.partition("=")[2].strip().lower()
    if environ.get("ASYNC_MODE", "").strip():
        return environ["ASYNC_MODE"].strip().lower()
    folder = os.getcwd()
    while True:  # as python-dotenv's find_dotenv(usecwd=True): the cwd, then its parents
        path = os.path.join(folder, ".env")
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    name, _, value = line.strip().removeprefix("export ").partition("=")
                    if name.strip() == "ASYNC_MODE" and value.strip().strip("'\""):
                        return value.split("#")[0].strip().strip("'\"").lower()
            break
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return "eventlet"
