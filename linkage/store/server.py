"""A real Neo4j 5.26 Community server for development and CI, without Docker.

Why this exists: the integration tests and investigators need the real
server (Cypher, constraints, Bolt), and not every machine has Docker or can
reach Neo4j's download site. Maven Central can be reached and publishes every
jar of the server, so ``linkage/store/neo4j-pom.xml`` resolves them into ``<home>/lib``
(APOC core into ``<home>/plugins``) and this module runs the server's own
entry point with ``java`` directly, as the ``neo4j console`` launcher would.

Layout of ``<home>`` (see ``default_home``)::

    lib/ plugins/   jars, downloaded once (a marker records which pom made them), or
                    hard-linked from another home that has the same ones
    conf/neo4j.conf written on every start from the arguments
    data/ logs/ run/  database files, console.log + maven.log, neo4j.pid

The initial password is set with Neo4j's admin tool before the first start
(``NEO4J_PASSWORD``, else ``linkage-dev-password``); it only applies to a
fresh ``data/``. It reaches the tool through an argument file, never the
command line, which every user of the machine can read. Everything listens
on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..resources import as_folder

HOST = "127.0.0.1"
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
PID_FILE = "neo4j.pid"  # under run/, the name `neo4j status` also reads
_MARKER = ".linkage-jars.json"

#: JVM flags from the ``server.jvm.additional`` lines of the 5.26 distribution's
#: neo4j.conf, minus -XX:+AlwaysPreTouch (slow start, no use for a dev heap), and
#: with the parallel collector in place of G1: this server has one user, a small
#: heap and batch writes, where throughput matters and pauses do not. Measured on
#: the 20,000-account load (``benchmarks/neo4j_load.py``, three runs each, 2 cores):
#: 71 s against 84 s, server CPU 107 s against 131 s. A shared production server
#: keeps its own configuration. The --add-opens are needed on Java 17+: Netty and
#: the page cache reach into java.nio / sun.nio.ch internals.
JVM_FLAGS = (
    "-XX:+UseParallelGC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
)
#: ``neo4j-admin database import`` keeps Neo4j's own collector (G1): the parallel one was measured on
#: the server's transactional writes only.
ADMIN_JVM_FLAGS = ("-XX:+UseG1GC", *(f for f in JVM_FLAGS if f != "-XX:+UseParallelGC"))

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # servers this process launched, to reap them

#: Told the name of each step of ``start`` as it begins (the CLI shows them with a spinner).
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServerInfo:
    """A running local server. Holds no password."""

    home: Path
    pid: int
    bolt_port: int
    http_port: int
    version: str | None = None
    apoc: bool = False

    @property
    def bolt_uri(self) -> str:
        return f"bolt://{HOST}:{self.bolt_port}"

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def console_log(self) -> Path:
        return self.home / "logs" / "console.log"

    def describe(self) -> str:
        """One line for the CLI."""
        name = f"Neo4j {self.version}" if self.version else "Neo4j"
        plus = " + APOC" if self.apoc else ""
        return f"{name}{plus} running (pid {self.pid}) at {self.bolt_uri} (http {self.http_url}), home {self.home}"


# --- where things are ---------------------------------------------------------------------


def project_root() -> Path | None:
    """The source checkout holding this package (an editable install), or None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def default_home() -> Path:
    """``$LINKAGE_NEO4J_HOME``; else ``.neo4j`` in a source checkout; else the user's data folder.

    An installed wheel lives in site-packages, which is no place for 125 MB of jars
    and a database (upgrades replace it, and it may be read-only), and the cwd
    changes from one shell to the next: installs that are not a checkout use
    ``$XDG_DATA_HOME/linkage/neo4j`` (``~/.local/share/linkage/neo4j``).
    """
    env = os.environ.get("LINKAGE_NEO4J_HOME")
    if env:
        return Path(env).expanduser().resolve()
    root = project_root()
    if root is not None:
        return root.resolve() / ".neo4j"
    return user_data_dir() / "linkage" / "neo4j"


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME`` if set to an absolute path (as the XDG spec requires), else ``~/.local/share``."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"


def pom_path() -> Path:
    """The pom listing the Neo4j jars: ``$LINKAGE_NEO4J_POM``, else the one shipped in the package."""
    env = os.environ.get("LINKAGE_NEO4J_POM")
    path = Path(env).expanduser() if env else as_folder("store", "neo4j-pom.xml")
    if not path.is_file():
        raise StoreError(f"cannot find the Neo4j pom at {path} (it lists the Neo4j jars): reinstall linkage "
                         "or set LINKAGE_NEO4J_POM")
    return path.resolve()


def _home(home: Path | str | None) -> Path:
    return Path(home).expanduser().resolve() if home is not None else default_home()


# --- pure builders ------------------------------------------------------------------------


def render_conf(home: Path, *, bolt_port: int, http_port: int, heap: str, pagecache: str, apoc: bool) -> str:
    """The whole neo4j.conf; Neo4j validates it strictly, so a typo stops the start."""
    lines = [
        "# Written by linkage.store.server on every start; edits here are overwritten.",
        f"server.directories.data={home / 'data'}",
        f"server.directories.logs={home / 'logs'}",
        f"server.directories.run={home / 'run'}",
        f"server.directories.lib={home / 'lib'}",
        f"server.directories.plugins={home / 'plugins'}",
        f"server.directories.import={home / 'import'}",
        f"server.default_listen_address={HOST}",
        f"server.default_advertised_address={HOST}",
        "server.bolt.enabled=true",
        f"server.bolt.listen_address={HOST}:{bolt_port}",
        f"server.bolt.advertised_address={HOST}:{bolt_port}",
        "server.http.enabled=true",
        f"server.http.listen_address={HOST}:{http_port}",
        f"server.http.advertised_address={HOST}:{http_port}",
        "server.https.enabled=false",
        f"server.memory.heap.initial_size={heap}",
        f"server.memory.heap.max_size={heap}",
        f"server.memory.pagecache.size={pagecache}",
        "dbms.usage_report.enabled=false",
        "db.tx_log.preallocate=false",  # else 256 MB reserved per database log: 0.5 GB for an empty dev store
    ]
    if apoc:
        lines.append("dbms.security.procedures.unrestricted=apoc.*")
    lines += [f"server.jvm.additional={flag}" for flag in JVM_FLAGS]
    return "\n".join(lines) + "\n"


def java_command(java: str, home: Path, *, heap: str) -> list[str]:
    """What ``neo4j console`` runs (see ``Neo4jCommand console --dry-run``)."""
    classpath = os.pathsep.join(str(home / d / "*") for d in ("plugins", "conf", "lib"))
    return [
        java, "-cp", classpath, *JVM_FLAGS, "-Dfile.encoding=UTF-8", f"-Xms{heap}", f"-Xmx{heap}",
        ENTRY_POINT, f"--home-dir={home}", f"--config-dir={home / 'conf'}", "--console-mode",
    ]  # fmt: skip


def read_ports(conf_text: str) -> tuple[int, int] | None:
    """(bolt, http) ports from a neo4j.conf this module wrote."""
    found = dict(re.findall(r"^server\.(bolt|http)\.listen_address=.*:(\d+)\s*$", conf_text, re.M))
    if "bolt" in found and "http" in found:
        return int(found["bolt"]), int(found["http"])
    return None


# --- the jars -----------------------------------------------------------------------------


def ensure_jars(home: Path | str | None = None, *, share_from: Iterable[Path | str] = (),
                progress: Progress | None = None) -> Path:
    """Make sure ``<home>/lib`` holds the jars of the current pom; link or download them if not.

    A home whose marker names the current pom is left alone, so a warm start
    touches no network (CI can call this to pre-warm). Otherwise the jars are
    hard-linked from the first home in ``share_from`` that has the same pom's
    jars (test sessions and benchmarks start many homes: 125 MB each, downloaded
    once), and only failing that downloaded by Maven. Returns lib/.
    """
    home = _home(home)
    lib, marker = home / "lib", home / "lib" / _MARKER
    with _locked(home, "jars.lock"):  # two test sessions may fill one jar cache at once
        old = _read_json(marker)
        try:
            pom = pom_path()
        except StoreError:
            if old:  # jars are here, the pom is not: use what we have
                return lib
            raise
        digest = pom_digest(pom)
        if old.get("pom_sha256") == digest:
            return lib
        _remove_jars(home, old)  # never mix two Neo4j versions on one classpath
        for donor in share_from:
            if _link_jars(Path(donor).expanduser().resolve(), home, digest):
                return lib
        if progress:
            progress("downloading jars (first time)")
        _download_jars(home, pom)
        plugins = home / "plugins"
        names = sorted(p.name for p in plugins.glob("*.jar")) if plugins.is_dir() else []
        marker.write_text(json.dumps({"pom_sha256": digest, "plugins": names}, indent=1))
        return lib


def pom_digest(pom: Path) -> str:
    """What the jars of ``pom`` are known by: its text without comments and whitespace (comments never force a download)."""
    meaning = re.sub(r"<!--.*?-->|\s+", "", pom.read_text(), flags=re.S)
    return hashlib.sha256(meaning.encode()).hexdigest()


def _remove_jars(home: Path, marker: dict[str, Any]) -> None:
    """Drop lib/ and the plugin jars a marker lists (a user's own plugins stay)."""
    shutil.rmtree(home / "lib", ignore_errors=True)
    for name in marker.get("plugins", []):
        (home / "plugins" / name).unlink(missing_ok=True)


def _link_jars(donor: Path, home: Path, digest: str) -> bool:
    """Hard-link (copy, across filesystems) the jars of ``donor`` if they are the ones of ``digest``.

    The marker is written last and never linked, so an interrupted link is
    redone, and no write to this home's marker can reach the donor's.
    """
    found = _read_json(donor / "lib" / _MARKER)
    if donor == home or found.get("pom_sha256") != digest:
        return False
    try:
        shutil.copytree(donor / "lib", home / "lib", copy_function=_link_or_copy,
                        ignore=shutil.ignore_patterns(_MARKER))
        (home / "plugins").mkdir(parents=True, exist_ok=True)
        for name in found.get("plugins", []):
            _link_or_copy(donor / "plugins" / name, home / "plugins" / name)
    except OSError:  # the donor changed under us: download instead
        _remove_jars(home, found)
        return False
    (home / "lib" / _MARKER).write_text(json.dumps({**found, "linked_from": str(donor)}, indent=1))
    return True


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    Path(dst).unlink(missing_ok=True)  # a copy onto an old link would write into the file it shares
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _download_jars(home: Path, pom: Path) -> None:
    """Run Maven on a copy of the pom (nothing is ever written beside the installed package)."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise StoreError("Maven (mvn) is not on PATH: it downloads the Neo4j jars from Maven Central once")
    (home / "logs").mkdir(parents=True, exist_ok=True)
    maven_log = home / "logs" / "maven.log"
    build = home / "build"
    build.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pom, build / "pom.xml")
    cmd = [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(build / "pom.xml"), f"-Dneo4j.home={home}", "package"]
    with maven_log.open("w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    if rc != 0 or not any((home / "lib").glob("neo4j-kernel-*.jar")):
        raise StoreError(f"downloading the Neo4j jars with Maven failed (exit {rc}): see {maven_log}")


def _version(home: Path) -> str | None:
    for jar in (home / "lib").glob("neo4j-kernel-*.jar"):
        match = re.fullmatch(r"neo4j-kernel-(\d[\w.-]*)\.jar", jar.name)
        if match:
            return match.group(1)
    return None


def _has_apoc(home: Path) -> bool:
    return any((home / "plugins").glob("apoc-core-*.jar"))


# --- process bookkeeping ------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}  # a marker or pid file is an object; anything else is unreadable


def _read_pid(home: Path) -> int | None:
    try:
        return int((home / "run" / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _is_our_server(pid: int, home: Path) -> bool:
    """Alive, and (where /proc tells) really the Neo4j of this home, not a reused pid."""
    child = _CHILDREN.get(pid)
    if child is not None:  # launched here: poll() knows, and /proc may still show us mid-exec
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process took the pid
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True  # no /proc (macOS): trust the pid file
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return ENTRY_POINT.encode() in args and f"--home-dir={home}".encode() in args


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


@contextlib.contextmanager
def _locked(home: Path, name: str = "linkage.lock") -> Iterator[None]:
    """One start/stop (``linkage.lock``) or jar download (``jars.lock``) at a time per home.

    Two test sessions, a CLI and a fixture... may share a home. The jars have a
    lock of their own because ``start`` fetches them while it holds the first.
    """
    (home / "run").mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with (home / "run" / name).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _info(home: Path, pid: int) -> ServerInfo:
    try:
        ports = read_ports((home / "conf" / "neo4j.conf").read_text())
    except OSError:
        ports = None
    bolt, http = ports or (0, 0)
    return ServerInfo(home=home, pid=pid, bolt_port=bolt, http_port=http, version=_version(home), apoc=_has_apoc(home))


# --- public API ---------------------------------------------------------------------------


def status(home: Path | str | None = None) -> ServerInfo | None:
    """The server running from ``home``, or None. Reads the pid file; no network."""
    home = _home(home)
    pid = _read_pid(home)
    if pid is None or not _is_our_server(pid, home):
        return None
    return _info(home, pid)


def start(
    home: Path | str | None = None,
    *,
    bolt_port: int = 7687,
    http_port: int = 7474,
    password: str | None = None,
    heap: str = "1g",
    pagecache: str = "512m",
    timeout: float = 180,
    share_jars_from: Iterable[Path | str] = (),
    progress: Progress | None = None,
) -> ServerInfo:
    """Start Neo4j from ``home`` and wait until ``RETURN 1`` answers over Bolt.

    Idempotent: if it already runs from this home, wait for it and return its
    info (its own ports, whatever was asked). On first use the jars are linked
    from a home in ``share_jars_from`` that has them, else downloaded.
    ``progress`` hears each step's name as it begins: a first start is silent
    for a minute otherwise. Raises StoreError with one line pointing at the
    console log on failure.
    """
    from .connection import DEV_PASSWORD

    home = _home(home)
    step = progress or (lambda name: None)
    password = password or os.environ.get("NEO4J_PASSWORD") or DEV_PASSWORD
    if len(password) < 8:
        raise StoreError("Neo4j 5 needs a password of at least 8 characters (NEO4J_PASSWORD)")
    with _locked(home):
        running = status(home)
        if running:
            step("waiting for bolt")
            _wait_ready(running, password, timeout)
            return running
        for port in (bolt_port, http_port):
            if _port_taken(port):
                raise StoreError(f"{HOST}:{port} is already in use (another Neo4j?): stop it or choose another port")
        java = java_executable()
        ensure_jars(home, share_from=share_jars_from, progress=progress)
        for sub in ("conf", "data", "logs", "run", "plugins", "import"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        conf = render_conf(
            home, bolt_port=bolt_port, http_port=http_port, heap=heap, pagecache=pagecache, apoc=_has_apoc(home)
        )
        (home / "conf" / "neo4j.conf").write_text(conf)
        if not (home / "data" / "databases" / "system").exists():
            step("setting password")
            _set_initial_password(java, home, password)
        step("starting JVM")
        info = _launch(java, home, heap)
        try:
            _wait_ready(info, password, timeout, on_jvm_up=lambda: step("waiting for bolt"))
        except StoreError:
            _terminate(home, info.pid, grace=20)
            raise
        return info


def stop(home: Path | str | None = None, *, grace: float = 60) -> bool:
    """Stop the server of ``home``: SIGTERM its pid, wait, then SIGKILL. True if one was running."""
    home = _home(home)
    with _locked(home):
        pid = _read_pid(home)
        if pid is None:
            return False
        if not _is_our_server(pid, home):
            (home / "run" / PID_FILE).unlink(missing_ok=True)
            return False
        _terminate(home, pid, grace=grace)
        return True


# --- steps of start/stop ------------------------------------------------------------------


def java_executable() -> str:
    """The ``java`` to run Neo4j with: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise StoreError("java not found (set JAVA_HOME or put java on PATH): Neo4j 5.26 needs Java 17 or 21")
    return java


def tool_env(home: Path) -> dict[str, str]:
    """The environment Neo4j's own tools expect for ``home``."""
    return {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}


def _set_initial_password(java: str, home: Path, password: str) -> None:
    """``neo4j-admin dbms set-initial-password`` without the script: AdminTool on the classpath.

    Writes data/dbms/auth.ini; Neo4j reads it when it creates the system database.
    The password goes in an argument file, not in argv: every user of the machine
    can read a process's command line (``ps``). neo4j-admin documents ``@file``
    for any of its arguments (picocli's AtFiles). The file is created 0600 in
    run/ and deleted as soon as the tool has read it.
    """
    fd, args_path = tempfile.mkstemp(prefix="initial-password-", suffix=".args", dir=home / "run")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as args:
            args.write(at_file_argument(password) + "\n")
        cmd = [java, "-Dfile.encoding=UTF-8", "-cp", str(home / "lib" / "*"), ADMIN_TOOL,
               "dbms", "set-initial-password", f"@{args_path}"]
        done = subprocess.run(cmd, env=tool_env(home), capture_output=True, text=True, stdin=subprocess.DEVNULL)
    finally:
        os.unlink(args_path)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise StoreError(f"setting the initial Neo4j password failed: {last[0].replace(password, '***')}")


def at_file_argument(value: str) -> str:
    r"""``value`` as one argument of a picocli argument file: double-quoted, with \ " and line breaks escaped.

    >>> print(at_file_argument('pa ss"wo\\rd #1'))
    "pa ss\"wo\\rd #1"
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _launch(java: str, home: Path, heap: str) -> ServerInfo:
    log_path = home / "logs" / "console.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            java_command(java, home, heap=heap),
            cwd=home, env=tool_env(home), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the CLI; Ctrl-C in the caller's shell does not reach it
        )  # fmt: skip
    _CHILDREN[proc.pid] = proc
    (home / "run" / PID_FILE).write_text(f"{proc.pid}\n")
    return _info(home, proc.pid)


def _wait_ready(info: ServerInfo, password: str, timeout: float, on_jvm_up: Callable[[], None] | None = None) -> None:
    """Poll ``RETURN 1`` over Bolt until it answers, the process dies, or time runs out.

    ``on_jvm_up`` is called once, when the JVM has started and Neo4j begins to log.
    """
    import neo4j
    from neo4j.exceptions import AuthError, DriverError, Neo4jError

    deadline = time.monotonic() + timeout
    with neo4j.GraphDatabase.driver(info.bolt_uri, auth=("neo4j", password), connection_timeout=2.0) as driver:
        while True:
            if on_jvm_up is not None and _has_logged(info.console_log):
                on_jvm_up()
                on_jvm_up = None
            if not _is_our_server(info.pid, info.home):
                raise StoreError(f"Neo4j exited during start-up{_first_error(info.console_log)}: see {info.console_log}")
            try:  # an auto-commit query: execute_query would retry with back-off and log warnings
                with driver.session() as session:
                    session.run("RETURN 1").consume()
                return
            except AuthError:
                raise StoreError(
                    f"Neo4j at {info.bolt_uri} refused the password for user 'neo4j': {info.home / 'data'} was "
                    "initialised with another one; use it (NEO4J_PASSWORD) or stop the server and delete that folder"
                ) from None
            except (DriverError, Neo4jError):
                pass  # not listening yet, or the database is still coming up
            if time.monotonic() > deadline:
                raise StoreError(f"Neo4j did not answer on {info.bolt_uri} within {timeout:.0f}s: see {info.console_log}")
            time.sleep(0.5)


def _has_logged(console_log: Path) -> bool:
    try:
        return console_log.stat().st_size > 0
    except OSError:
        return False


def _first_error(console_log: Path) -> str:
    """`` (<first error>)`` from the console log: Neo4j's ERROR line, or the JVM's own."""
    try:
        lines = console_log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in lines:
        if " ERROR " in line:
            return f" ({line.split(' ERROR ', 1)[1].strip()[:200]})"
        if line.startswith(("Exception in thread", "Error:", "Invalid ")):  # the JVM failed before Neo4j logged
            message = line.removeprefix('Exception in thread "main" ').strip()
            return f" ({message[:200]})"
    return ""


def _terminate(home: Path, pid: int, *, grace: float) -> None:
    """SIGTERM (Neo4j shuts down cleanly), then SIGKILL after ``grace`` seconds. Only this pid."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _is_our_server(pid, home) and time.monotonic() < deadline:
        time.sleep(0.25)
    if _is_our_server(pid, home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _is_our_server(pid, home) and time.monotonic() < deadline:
            time.sleep(0.1)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(timeout=30)
    (home / "run" / PID_FILE).unlink(missing_ok=True)
