"""A user's own Neo4j and the test session: what ``linkage neo4j start`` shows, and what the tests never touch.

A stand-in for the user's server is started as a user would start theirs
(``linkage neo4j start`` at a terminal, a fresh home, their password in
``NEO4J_PASSWORD``) while another thread reads every process's command line.
Then a whole pytest session runs beside it, with the user's settings in its
environment and a test that empties its database.
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

from linkage.store import server
from linkage.store.connection import Settings, connect, run_query

ROOT = Path(__file__).resolve().parents[2]


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


def user_shell(user_server: UserServer, **extra: str) -> dict[str, str]:
    """The environment of a user whose shell points at their server (and holds nothing of this session)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "LINKAGE_"))}
    env.update(NEO4J_URI=user_server.settings.uri, NEO4J_PASSWORD=user_server.settings.password,
               LINKAGE_NEO4J_HOME=str(user_server.home), **extra)
    return env


def run_pytest(test: str, env: dict[str, str], basetemp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}",
                           test], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def test_a_user_graph_survives_a_test_session(user_server, tmp_path):
    """What the user has in their shell (NEO4J_URI, NEO4J_PASSWORD, LINKAGE_NEO4J_HOME at their server) and a test
    that empties its database: the tests run on a server of their own, and the user's graph is still there."""
    test = "tests/integration/test_server.py::test_writes_and_reads_back"  # its clean_db empties the database
    done = run_pytest(test, user_shell(user_server), tmp_path)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    assert user_graph(user_server.settings) == 1
    assert server.status(user_server.home) is not None  # and the user's server still runs


def test_an_external_test_server_needs_leave_to_be_emptied(user_server, tmp_path):
    """Pointing the tests at a server of one's own (LINKAGE_TEST_NEO4J_URI) without LINKAGE_TEST_ALLOW_WIPE=1 stops
    the session before it connects."""
    env = user_shell(user_server, LINKAGE_TEST_NEO4J_URI=user_server.settings.uri,
                     LINKAGE_TEST_NEO4J_PASSWORD=user_server.settings.password)
    done = run_pytest("tests/integration/test_server.py::test_writes_and_reads_back", env, tmp_path)
    assert done.returncode != 0 and "set LINKAGE_TEST_ALLOW_WIPE=1 if it is a scratch server" in done.stdout
    assert user_graph(user_server.settings) == 1
