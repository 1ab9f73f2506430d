"""The local server and the connection layer against a real Neo4j.

What matters to a user: the server runs and answers, and every way of
failing to reach it gives one line that says what to do, never the password;
a first start shows its steps and never puts the password where ``ps`` shows
it; and running the tests never touches the user's own server.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkage.cli import main
from linkage.errors import StoreError
from linkage.store import server
from linkage.store.connection import Settings, connect, run_query

ROOT = Path(__file__).resolve().parents[2]


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


# --- the user's own server: a first start, watched; then a test session beside it ---------


@dataclass
class ArgvWatch:
    """Reads every process's command line (what ``ps`` shows anyone) until stopped, looking for a secret."""

    secret: bytes
    hits: list[str] = field(default_factory=list)
    saw_password_tool: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> ArgvWatch:
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    args = cmdline.read_bytes()
                except OSError:
                    continue  # the process ended
                self.saw_password_tool |= b"set-initial-password" in args
                if self.secret in args:
                    self.hits.append(args.replace(b"\0", b" ").decode(errors="replace"))
            time.sleep(0.01)


def run_in_terminal(cmd: list[str], env: dict[str, str], timeout: float = 600) -> tuple[int, str, str]:
    """Run ``cmd`` with stderr on a pseudo-terminal, as in a user's shell: (exit code, stdout, terminal output)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    screen = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    out = proc.stdout.read().decode()
    return proc.wait(timeout=timeout), out, screen.decode(errors="replace")


@dataclass(frozen=True)
class UserServer:
    home: Path
    settings: Settings
    start_code: int
    start_stdout: str
    start_terminal: str
    watch: ArgvWatch


USER_GRAPH = "MERGE (:UserGraph {name: 'a twenty-thousand-account world'})"


def user_graph(settings: Settings) -> int:
    with connect(settings) as driver:
        return run_query(driver, settings, "user_graph", "MATCH (n:UserGraph) RETURN count(n) AS n")[0]["n"]


@pytest.fixture(scope="module")
def user_server(neo4j_jars, free_ports, tmp_path_factory):
    """A stand-in for the user's own server, started as they would: ``linkage neo4j start`` at a terminal.

    Its home is fresh (so the start sets a password) with the jars linked in (the
    test is about the start, not Maven); its graph gets a node the user would not
    want to lose. ``NEO4J_PASSWORD`` and ``LINKAGE_NEO4J_HOME`` are the user's.
    """
    home = tmp_path_factory.mktemp("user-neo4j")
    server.ensure_jars(home, share_from=[neo4j_jars])
    bolt, http = free_ports(2)
    password = f"users-own-{os.urandom(8).hex()}"
    env = {**os.environ, "NEO4J_PASSWORD": password, "LINKAGE_NEO4J_HOME": str(home), "NEO4J_URI": f"bolt://127.0.0.1:{bolt}"}
    cmd = [sys.executable, "-m", "linkage.cli", "neo4j", "start", "--bolt-port", str(bolt), "--http-port", str(http)]
    try:
        with ArgvWatch(password.encode()) as watch:
            code, out, terminal = run_in_terminal(cmd, env)
        settings = Settings(uri=f"bolt://127.0.0.1:{bolt}", password=password)
        if code == 0:
            with connect(settings) as driver:
                run_query(driver, settings, "user_graph", USER_GRAPH, write=True)
        yield UserServer(home, settings, code, out, terminal, watch)
    finally:
        server.stop(home, grace=20)


def test_a_first_start_never_shows_the_password_to_ps(user_server):
    assert user_server.start_code == 0, user_server.start_terminal[-2000:]
    assert user_server.watch.saw_password_tool, "the watch never saw the password being set: it proves nothing"
    assert user_server.watch.hits == []
    leftovers = [p.name for p in (user_server.home / "run").iterdir() if "password" in p.name]
    assert leftovers == []  # the argument file is gone


def test_a_first_start_at_a_terminal_shows_its_steps(user_server):
    assert user_server.start_code == 0
    for step in ("setting password", "starting JVM", "waiting for bolt"):
        assert step in user_server.start_terminal
    assert "downloading jars" not in user_server.start_terminal  # they were linked, not downloaded
    summary = user_server.start_stdout.splitlines()
    assert len(summary) == 1 and user_server.settings.uri in summary[0] and str(user_server.home) in summary[0]


def test_wipe_refuses_a_database_it_did_not_create(user_server, guarded_wipe):
    with connect(user_server.settings) as driver, pytest.raises(RuntimeError, match="did not create it"):
        guarded_wipe(driver, user_server.settings)
    assert user_graph(user_server.settings) == 1


def test_a_user_graph_survives_a_test_session(user_server, tmp_path):
    """What the user has in their shell (NEO4J_URI, NEO4J_PASSWORD, LINKAGE_NEO4J_HOME at their server) and a test
    that empties its database: the tests run on a server of their own, and the user's graph is still there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "LINKAGE_"))}
    env.update(NEO4J_URI=user_server.settings.uri, NEO4J_PASSWORD=user_server.settings.password,
               LINKAGE_NEO4J_HOME=str(user_server.home))
    test = "tests/integration/test_server.py::test_writes_and_reads_back"  # its clean_db empties the database
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path}",
                           test], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    assert user_graph(user_server.settings) == 1
    assert server.status(user_server.home) is not None  # and the user's server still runs
