"""The local server and the connection layer against a real Neo4j.

What matters to a user: the server runs and answers, and every way of
failing to reach it gives one line that says what to do, never the password;
and a start off a terminal prints one line. (A first start at a terminal,
and the tests' isolation from the user's server: test_isolation.py.)
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from linkage.cli import main
from linkage.errors import StoreError
from linkage.store import server
from linkage.store.connection import Settings, connect, run_query


@pytest.fixture
def managed(neo4j_server):
    if neo4j_server is None:
        pytest.skip("the server at NEO4J_URI is not one linkage started")
    return neo4j_server


def test_status_reports_the_running_server(managed):
    info = server.status(managed.home)
    assert info is not None
    assert info.pid == managed.pid
    assert info.bolt_uri == managed.bolt_uri
    assert info.version and info.version.startswith("5.26.")


def test_start_is_idempotent(managed, neo4j_settings):
    again = server.start(managed.home, password=neo4j_settings.password, timeout=30)
    assert again.pid == managed.pid


def test_return_1_answers(neo4j_driver, neo4j_settings):
    records = run_query(neo4j_driver, neo4j_settings, "test_return_1", "RETURN 1 AS one")
    assert [r["one"] for r in records] == [1]


def test_writes_and_reads_back(clean_db, neo4j_settings):
    rows = [{"id": "a1"}, {"id": "a2"}]
    cypher = "UNWIND $rows AS row MERGE (a:TestAccount {account_id: row.id}) RETURN count(a) AS n"
    for _ in range(2):  # idempotent: a re-run changes nothing
        run_query(clean_db, neo4j_settings, "test_merge", cypher, {"rows": rows}, write=True)
    records = run_query(clean_db, neo4j_settings, "test_count", "MATCH (a:TestAccount) RETURN count(a) AS n")
    assert records[0]["n"] == 2


def test_wrong_password_is_one_line_without_the_password(neo4j_settings):
    wrong = "not-the-password-42"
    with pytest.raises(StoreError) as err:
        connect(neo4j_settings.replace(password=wrong))
    message = str(err.value)
    assert f"Neo4j refused the credentials for user {neo4j_settings.user!r}" in message
    assert wrong not in message and neo4j_settings.password not in message
    assert "\n" not in message


def test_unknown_database(neo4j_settings):
    with pytest.raises(StoreError, match="Neo4j has no database named 'nosuchdb'"):
        connect(neo4j_settings.replace(database="nosuchdb"))


def test_unreachable_port():
    with pytest.raises(StoreError, match=r"cannot reach Neo4j at bolt://127\.0\.0\.1:1: is it running\?"):
        connect(Settings(uri="bolt://127.0.0.1:1"))


def test_failed_query_is_named(neo4j_driver, neo4j_settings):
    with pytest.raises(StoreError, match="Neo4j failed query test_bad_syntax: Neo.ClientError.Statement.SyntaxError"):
        run_query(neo4j_driver, neo4j_settings, "test_bad_syntax", "RETURN RETURN")


# --- the CLI ------------------------------------------------------------------------------


def _run(*args):
    result = CliRunner().invoke(main, ["neo4j", *map(str, args)])
    return result.exit_code, result.stdout.splitlines(), result.stderr.splitlines()


def test_cli_status_running(managed):
    code, out, err = _run("status", "--home", managed.home)
    assert code == 0 and err == []
    assert len(out) == 1 and managed.bolt_uri in out[0] and f"pid {managed.pid}" in out[0]


def test_cli_status_and_stop_when_nothing_runs(tmp_path):
    code, out, _ = _run("status", "--home", tmp_path)
    assert code == 3 and out == [f"Neo4j is not running (home {tmp_path.resolve()})"]
    code, out, _ = _run("stop", "--home", tmp_path)
    assert code == 0 and out == [f"Neo4j was not running (home {tmp_path.resolve()})"]


def test_cli_start_on_a_taken_port_is_one_error_line(managed, tmp_path):
    code, out, err = _run("start", "--home", tmp_path, "--bolt-port", managed.bolt_port, "--http-port", managed.http_port)
    assert code == StoreError.exit_code and out == []
    assert err == [f"linkage: error: 127.0.0.1:{managed.bolt_port} is already in use (another Neo4j?): "
                   "stop it or choose another port"]


def test_cli_start_off_a_terminal_prints_only_the_summary(managed, neo4j_settings):
    """Progress is for people at a terminal: piped or captured, start prints its one line (and --quiet not even that)."""
    ports = ("--bolt-port", managed.bolt_port, "--http-port", managed.http_port)
    code, out, err = _run("start", "--home", managed.home, *ports)
    assert code == 0 and err == [] and len(out) == 1 and managed.bolt_uri in out[0]
    code, out, err = _run("start", "--home", managed.home, *ports, "--quiet")
    assert (code, out, err) == (0, [], [])
