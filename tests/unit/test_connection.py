"""Connection settings and query-runner error handling, with no server."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from linkage.errors import ConfigError, StoreError
from linkage.store.connection import DEV_PASSWORD, Settings, connect, run_query

ENV = ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE")


@pytest.fixture
def no_env(monkeypatch):
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_defaults_without_env(no_env):
    s = Settings.from_env()
    assert (s.uri, s.user, s.password, s.database) == ("bolt://127.0.0.1:7687", "neo4j", DEV_PASSWORD, "neo4j")


def test_reads_env(no_env):
    no_env.setenv("NEO4J_URI", "neo4j://graph.example:7688")
    no_env.setenv("NEO4J_USER", "analyst")
    no_env.setenv("NEO4J_PASSWORD", "from-env-pw")
    no_env.setenv("NEO4J_DATABASE", "rings")
    assert Settings.from_env() == Settings("neo4j://graph.example:7688", "analyst", "from-env-pw", "rings")


def test_overrides_beat_env_and_none_is_ignored(no_env):
    no_env.setenv("NEO4J_USER", "analyst")
    no_env.setenv("NEO4J_DATABASE", "rings")
    s = Settings.from_env(user="admin", database=None)
    assert s.user == "admin" and s.database == "rings"


def test_empty_env_counts_as_unset(no_env):
    no_env.setenv("NEO4J_PASSWORD", "")
    assert Settings.from_env().password == DEV_PASSWORD


def test_unknown_override_is_a_config_error(no_env):
    with pytest.raises(ConfigError, match="unknown Neo4j setting"):
        Settings.from_env(pasword="typo")


def test_repr_and_str_hide_the_password(no_env):
    no_env.setenv("NEO4J_PASSWORD", "hunter2-but-longer")
    s = Settings.from_env()
    for text in (repr(s), str(s), f"{s}", repr([s])):
        assert "hunter2" not in text
        assert "password=<hidden>" in text and s.uri in text


def test_invalid_uri_is_a_store_error():
    with pytest.raises(StoreError, match="invalid Neo4j URI 'http://nope': NEO4J_URI must start with bolt://"):
        connect(Settings(uri="http://nope"))


# --- run_query with a stand-in driver: names, logging, error lines ------------------------


class FakeTx:
    def __init__(self, rows):
        self.rows = rows
        self.calls = []

    def run(self, cypher, params):
        self.calls.append((cypher, params))
        return iter(self.rows)


class FakeDriver:
    """Just enough of neo4j.Driver: session(database=...).execute_read/execute_write(fn)."""

    def __init__(self, rows=(), fail=None):
        self.tx = FakeTx(list(rows))
        self.fail = fail
        self.used = []

    @contextmanager
    def session(self, database=None):
        self.used.append(database)
        yield self

    def _execute(self, kind, work):
        self.used.append(kind)
        if self.fail:
            raise self.fail
        return work(self.tx)

    def execute_read(self, work):
        return self._execute("read", work)

    def execute_write(self, work):
        return self._execute("write", work)


def test_run_query_uses_a_managed_transaction_and_logs_only_the_name(caplog):
    driver = FakeDriver(rows=[{"n": 1}])
    settings = Settings(database="rings", password="never-logged-pw")
    with caplog.at_level(logging.DEBUG, logger="linkage.store"):
        out = run_query(driver, settings, "load_accounts", "UNWIND $rows AS r RETURN r", {"rows": ["secret-value"]}, write=True)
    assert out == [{"n": 1}]
    assert driver.used == ["rings", "write"]
    assert driver.tx.calls == [("UNWIND $rows AS r RETURN r", {"rows": ["secret-value"]})]
    assert "load_accounts" in caplog.text
    assert "secret-value" not in caplog.text and "never-logged-pw" not in caplog.text


@pytest.mark.parametrize("exc", [ServiceUnavailable("gone"), SessionExpired("expired")])
def test_connection_lost_mid_run_says_rerun(exc):
    with pytest.raises(StoreError) as err:
        run_query(FakeDriver(fail=exc), Settings(), "write_links", "RETURN 1", write=True)
    assert str(err.value) == "lost the connection to Neo4j during write_links: re-run to repair (writes are idempotent)"


def test_malformed_address_is_a_store_error():
    with pytest.raises(StoreError, match="invalid Neo4j URI 'bolt://host:notaport'"):
        connect(Settings(uri="bolt://host:notaport"))


def test_load_chunks_are_exact_slices_whatever_duckdb_threads():
    """Chunk k is recorded as loaded, so it must be the same rows on every run (see store.rows.batches)."""
    import duckdb

    from linkage.store.rows import batches as _batches

    sizes = []
    for threads in (1, 2):
        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        chunks = list(_batches(con, "SELECT range AS i FROM range(6943) ORDER BY i", size=1000))
        sizes.append([len(c) for c in chunks])
        assert [r["i"] for c in chunks for r in c] == list(range(6943))
    assert sizes[0] == sizes[1] == [1000] * 6 + [943]
