"""Fixtures for tests that need the real Neo4j: a server of the session's own, never the user's.

Why: ``linkage neo4j start`` runs the user's server on 7687 with their graph in it,
and the ``NEO4J_*`` variables of their shell point at it. A test session that used
them once wiped an investigator's graph. So the session

- starts its own Neo4j in a fresh temporary home, on free ports chosen at run time,
  with a random password; the jars (125 MB) are hard-linked from a cache
  (``.neo4j/test-jars``, or ``$LINKAGE_TEST_NEO4J_JARS``) that is filled once, from the
  checkout's ``.neo4j`` when it has them, else by Maven;
- drops the user's ``NEO4J_*``, ``LINKAGE_NEO4J_HOME`` and ``LINKAGE_NEO4J_POM`` from its
  environment and puts the test server's in their place, so CLI runs and
  subprocesses of the tests reach the test server and nothing else;
- records the id Neo4j gives the database when it creates it; ``wipe`` refuses any
  database with another id.

Against an external scratch server instead: set ``LINKAGE_TEST_NEO4J_URI`` (and
``LINKAGE_TEST_NEO4J_USER/_PASSWORD/_DATABASE``) and ``LINKAGE_TEST_ALLOW_WIPE=1``,
which says that everything in that database may be deleted.

Every test in this folder is marked ``integration``: ``pytest -m "not integration"``
runs without a server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from linkage.store import server
from linkage.store.connection import DEV_PASSWORD, Settings, connect, run_query

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

#: The user's settings: never read by the tests, replaced for the session.
USER_ENV = ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE", "LINKAGE_NEO4J_HOME", "LINKAGE_NEO4J_POM")

#: Ids (``db.info().id``) of the databases this session may empty.
_WIPEABLE: set[str] = set()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class SessionNeo4j:
    """The session's database: how to reach it, and the local server behind it (None when external)."""

    settings: Settings
    info: server.ServerInfo | None


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 now (all held open together, so no two are the same)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def jar_cache() -> Path:
    """A home holding only the Neo4j jars, that every test home links to: filled once per checkout.

    It takes them from the checkout's own ``.neo4j`` (or the ``.neo4j/test`` home of
    earlier sessions) when those have the current pom's jars; Maven otherwise.
    """
    env = os.environ.get("LINKAGE_TEST_NEO4J_JARS")
    cache = Path(env).resolve() if env else ROOT / ".neo4j" / "test-jars"
    server.ensure_jars(cache, share_from=[ROOT / ".neo4j", ROOT / ".neo4j" / "test"])
    return cache


def database_id(driver, settings: Settings) -> str:
    """The id Neo4j gave this database when it created it: another server or a re-created store has another."""
    return run_query(driver, settings, "test_database_id", "CALL db.info() YIELD id RETURN id")[0]["id"]


@pytest.fixture(scope="session")
def neo4j_jars() -> Path:
    """The jar cache (see ``jar_cache``), for tests that start servers of their own."""
    return jar_cache()


@pytest.fixture(name="free_ports", scope="session")
def free_ports_fixture():
    """``free_ports`` itself (test modules cannot import this conftest reliably)."""
    return free_ports


@pytest.fixture(scope="session", autouse=True)
def session_neo4j(tmp_path_factory) -> SessionNeo4j:
    """The session's Neo4j, with the environment pointing at it (see the module docstring)."""
    external = os.environ.get("LINKAGE_TEST_NEO4J_URI")
    with pytest.MonkeyPatch.context() as env:
        for var in USER_ENV:
            env.delenv(var, raising=False)
        with ExitStack() as cleanup:
            db = _external(external) if external else _own_server(tmp_path_factory, cleanup)
            with connect(db.settings) as driver:
                _WIPEABLE.add(database_id(driver, db.settings))
            for var, value in (("NEO4J_URI", db.settings.uri), ("NEO4J_USER", db.settings.user),
                               ("NEO4J_PASSWORD", db.settings.password), ("NEO4J_DATABASE", db.settings.database)):
                env.setenv(var, value)
            if db.info is not None:
                env.setenv("LINKAGE_NEO4J_HOME", str(db.info.home))
            yield db


def _own_server(tmp_path_factory, cleanup: ExitStack) -> SessionNeo4j:
    """A fresh home and store: the only database the session will empty is one it has just created."""
    home = tmp_path_factory.mktemp("neo4j")
    bolt, http = free_ports(2)
    password = "test-" + secrets.token_urlsafe(16)
    info = server.start(home, bolt_port=bolt, http_port=http, password=password, share_jars_from=[jar_cache()])
    cleanup.callback(shutil.rmtree, home / "data", ignore_errors=True)  # runs after the stop below
    cleanup.callback(server.stop, home, grace=20)
    return SessionNeo4j(Settings(uri=info.bolt_uri, password=password), info)


def _external(uri: str) -> SessionNeo4j:
    if os.environ.get("LINKAGE_TEST_ALLOW_WIPE") != "1":
        pytest.fail(f"LINKAGE_TEST_NEO4J_URI={uri}: the integration tests delete everything in that database; "
                    "set LINKAGE_TEST_ALLOW_WIPE=1 if it is a scratch server", pytrace=False)
    get = os.environ.get
    settings = Settings(uri=uri, user=get("LINKAGE_TEST_NEO4J_USER") or "neo4j",
                        password=get("LINKAGE_TEST_NEO4J_PASSWORD") or DEV_PASSWORD,
                        database=get("LINKAGE_TEST_NEO4J_DATABASE") or "neo4j")
    return SessionNeo4j(settings, None)


@pytest.fixture(scope="session")
def neo4j_server(session_neo4j) -> server.ServerInfo | None:
    """The session's local server; None with an external one (tests that need its files skip)."""
    return session_neo4j.info


@pytest.fixture(scope="session")
def neo4j_settings(session_neo4j) -> Settings:
    """Settings that reach the session's database."""
    return session_neo4j.settings


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_settings):
    driver = connect(neo4j_settings)
    try:
        yield driver
    finally:
        driver.close()


def wipe(driver, settings: Settings) -> None:
    """Delete everything in bounded transactions (relationships first: dense nodes are costly to detach).

    Only in a database this session created, or was told it may empty: anything
    else is refused before a single write.
    """
    found = database_id(driver, settings)
    if found not in _WIPEABLE:
        raise RuntimeError(f"refusing to empty database {settings.database!r} at {settings.uri}: "
                           f"this test session did not create it (id {found[:12]}…)")
    for name, cypher in (
        ("test_wipe_rels", "MATCH ()-[r]->() WITH r LIMIT 50000 DELETE r RETURN count(*) AS deleted"),
        ("test_wipe_nodes", "MATCH (n) WITH n LIMIT 50000 DELETE n RETURN count(*) AS deleted"),
    ):
        while run_query(driver, settings, name, cypher, write=True)[0]["deleted"]:
            pass


@pytest.fixture(scope="session")
def guarded_wipe():
    """``wipe`` itself, for tests of its guard."""
    return wipe


@pytest.fixture
def clean_db(neo4j_driver, neo4j_settings):
    """An empty database for the test: every node and relationship deleted, in batches."""
    wipe(neo4j_driver, neo4j_settings)
    return neo4j_driver


@pytest.fixture(scope="session")
def wiper(neo4j_driver, neo4j_settings):
    """Empty the database again in the middle of a test."""
    return lambda: wipe(neo4j_driver, neo4j_settings)
