"""Fixtures for the storage tests: a ``Store`` on SQLite and on a real PostgreSQL server.

``store`` is parametrized over both backends. SQLite gets a file under ``tmp_path``;
PostgreSQL gets a fresh schema per test (``search_path`` set through the connection's
``options``), dropped afterwards, so runs never see each other's rows. The server's URL comes
from ``TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``). When it
can't be reached the PostgreSQL cases are skipped, except with ``CI`` set, where they fail: a CI
run must prove they ran.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.store import Store, engine_url
from tests.conftest import skip_unless_ci

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    """An engine on the test server, or a skip (a failure under CI) when there is none."""
    url = engine_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_DATABASE_URL)
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = (f"PostgreSQL at {url.render_as_string(hide_password=True)} unreachable: "
                  f"{' '.join(str(exc.orig).split())[:200]}")
        skip_unless_ci(reason)
    yield engine
    engine.dispose()


@pytest.fixture
def postgresql_url(postgres_admin: sa.Engine) -> Iterator[sa.URL]:
    """A URL whose connections work in a new, empty schema of their own."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield postgres_admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    with postgres_admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'market.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | sa.URL:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def make_store(store_url: str | sa.URL) -> Iterator[Callable[..., Store]]:
    """Build stores on this test's database (with options); all closed after the test."""
    stores: list[Store] = []

    def make(**options: object) -> Store:
        store = Store(store_url, **options)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store(prune_batch=3)
