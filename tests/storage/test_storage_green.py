"""The store under the server's real concurrency, in each async mode: monkey patched, calls in
OS threads through ``dashboard.concurrency.blocking_runner`` and one ``storage.serialized``.

Without ``serialized``, two store calls in two threads contend for a monkey-patched (green) lock
inside SQLAlchemy's pool and both hang: the run then times out. The child process is needed
because the test process must not be monkey patched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_store_and_writer_under_a_green_hub(store_url: str | sa.URL, mode: str):
    url = store_url if isinstance(store_url, str) else store_url.render_as_string(False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    try:
        done = subprocess.run(
            [sys.executable, "-W", "ignore", str(HERE / "green_run.py"), mode, url],
            env=env, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"deadlocked or stalled under {mode}: {exc.stderr!r}")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])

    assert result["written"] == 200 * 51
    assert result["stored_trades"] == 200 * 50
    assert result["latest"] == 7
    assert result["failures"] == 0
    assert result["queries"] > 0
    assert result["longest_stall"] < 0.5  # the hub kept ticking while the store worked
