"""Fixtures for tests that need the real Neo4j.

If something already answers at ``NEO4J_URI`` the tests use it (and
``clean_db`` WIPES its database: point NEO4J_URI at a scratch server). If
nothing answers and the URI is local, the session starts linkage's own server
from ``$LINKAGE_TEST_NEO4J_HOME`` (default ``.neo4j/test`` in the project, so a
developer's ``.neo4j`` graph is left alone) and stops it at the end.

Every test in this folder is marked ``integration``: ``pytest -m "not integration"``
runs without a server.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from linkage.store import server
from linkage.store.connection import Settings, connect, run_query

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


def _answers(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        return sock.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_home() -> Path:
    env = os.environ.get("LINKAGE_TEST_NEO4J_HOME")
    return Path(env).resolve() if env else server.default_home() / "test"


@pytest.fixture(scope="session")
def neo4j_server():
    """The linkage-managed server behind NEO4J_URI (started here if needed), or None.

    None means some other server answers (Docker, a cluster): tests that need
    the local server's files skip.
    """
    settings = Settings.from_env()
    url = urlsplit(settings.uri)
    host, port = url.hostname or "127.0.0.1", url.port or 7687
    if _answers(host, port):
        for home in (server.default_home(), _test_home()):
            info = server.status(home)
            if info and info.bolt_port == port:
                yield info
                return
        yield None
        return
    if host not in ("127.0.0.1", "localhost"):
        pytest.fail(f"nothing answers at {settings.uri} and it is not local, so no server can be started for it")
    info = server.start(_test_home(), bolt_port=port, http_port=_free_port(), password=settings.password)
    try:
        yield info
    finally:
        server.stop(info.home)


@pytest.fixture(scope="session")
def neo4j_settings(neo4j_server) -> Settings:
    """Settings that reach a running Neo4j (see ``neo4j_server``)."""
    return Settings.from_env()


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_settings):
    driver = connect(neo4j_settings)
    try:
        yield driver
    finally:
        driver.close()


def wipe(driver, settings) -> None:
    """Delete everything in bounded transactions: relationships first (dense nodes are costly to detach)."""
    for name, cypher in (
        ("test_wipe_rels", "MATCH ()-[r]->() WITH r LIMIT 50000 DELETE r RETURN count(*) AS deleted"),
        ("test_wipe_nodes", "MATCH (n) WITH n LIMIT 50000 DELETE n RETURN count(*) AS deleted"),
    ):
        while run_query(driver, settings, name, cypher, write=True)[0]["deleted"]:
            pass


@pytest.fixture
def clean_db(neo4j_driver, neo4j_settings):
    """An empty database for the test: every node and relationship deleted, in batches."""
    wipe(neo4j_driver, neo4j_settings)
    return neo4j_driver


@pytest.fixture(scope="session")
def wiper(neo4j_driver, neo4j_settings):
    """Empty the database again in the middle of a test."""
    return lambda: wipe(neo4j_driver, neo4j_settings)
