"""Every way a command can end badly is one line and an exit code: bad options, Ctrl-C, closed pipes, full disks.

Signals, pipes and /dev/full are real: the CLI runs in a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkage import detect, limits
from linkage.cli import main
from linkage.errors import ConfigError

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "world"
CLI = [sys.executable, "-m", "linkage.cli"]

BAD_OPTIONS = [
    ("--seed", "9223372036854775808"), ("--seed", "-1"), ("--seed", "2147483648"), ("--seed", "nan"),
    ("--threads", "-1"), ("--threads", "0"), ("--threads", "99999999999"),
    ("--memory-limit", "-5GB"), ("--memory-limit", "0"), ("--memory-limit", "nan"), ("--memory-limit", "5 parsecs"),
    ("--memory-limit", "1KB"),
    ("--resolution", "-1"), ("--resolution", "0"), ("--resolution", "nan"), ("--resolution", "inf"),
    ("--resolution", "-inf"),
    ("--threshold", "1.5"), ("--threshold", "-0.1"), ("--threshold", "nan"), ("--threshold", "inf"),
    ("--min-ring-size", "1"), ("--min-ring-size", "-3"), ("--min-ring-size", "99999999999999999999"),
]


def _one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("linkage: error:") and "Traceback" not in output, output
    return lines[0]


@pytest.mark.parametrize("option,value", BAD_OPTIONS)
def test_detect_refuses_each_bad_option_in_one_line(tmp_path, option, value):
    res = CliRunner().invoke(main, ["detect", str(FIXTURE), "--out", str(tmp_path / "o"), option, value])
    assert res.exit_code == 2
    assert option in _one_line(res.output)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [
    ["synth", "{tmp}/w", "--seed", "-1"], ["synth", "{tmp}/w", "--seed", "4294967296"],
    ["synth", "{tmp}/w", "--accounts", "0"], ["synth", "{tmp}/w", "--accounts", "nan"],
    ["synth", "{tmp}/w", "--requests", "-5"],
    ["rings", "--neo4j", "--seed", "9223372036854775808"], ["rings", "--neo4j", "--threshold", "nan"],
    ["rings", "--neo4j", "--threshold", "2"],
    ["explain", "a", "b", "--from", "{tmp}", "--paths", "0"],
])
def test_other_commands_refuse_bad_options_in_one_line(tmp_path, args):
    res = CliRunner().invoke(main, [a.format(tmp=tmp_path) for a in args])
    assert res.exit_code == 2
    _one_line(res.output)
    assert not (tmp_path / "w").exists()


def test_the_library_refuses_what_the_cli_refuses(tmp_path):
    for kwargs in ({"threads": -1}, {"threads": 10 ** 11}, {"memory_limit": "-5GB"}, {"memory_limit": "nan"}):
        with pytest.raises(ConfigError):
            detect(FIXTURE, **kwargs)


def test_worker_processes_never_exceed_the_cores():
    assert limits.workers(10 ** 6) == limits.cores()
    assert limits.workers(1) == 1 and limits.max_threads() == limits.THREADS_PER_CORE * limits.cores()


def test_a_good_memory_limit_and_thread_count_still_run(tmp_path):
    res = CliRunner().invoke(main, ["detect", str(FIXTURE), "--out", str(tmp_path / "o"), "--quiet",
                                    "--threads", "1", "--memory-limit", "2GiB"])
    assert res.exit_code == 0, res.output


# --- signals, pipes, full disks (real, in a subprocess) --------------------------------------------


def _run_until(cmd: list[str], marker: str | None, sig: int, *, after: float = 0.0,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Start ``cmd``, wait for ``marker`` on its stderr (or ``after`` seconds), send ``sig``, collect the rest."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    try:
        if marker is not None:
            assert proc.stderr is not None
            deadline = time.monotonic() + timeout
            for line in proc.stderr:
                seen += line
                if marker in line or time.monotonic() > deadline:
                    break
        time.sleep(after)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, seen + err)


@pytest.mark.parametrize("marker", ["✓ read", "✓ attribution"])
def test_ctrl_c_during_detect_says_interrupted_and_leaves_nothing(tmp_path, marker):
    out = tmp_path / "out"
    done = _run_until([*CLI, "detect", str(FIXTURE), "--out", str(out)], marker, signal.SIGINT)
    if done.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert done.returncode == 130, done.stderr
    assert done.stderr.rstrip().endswith("linkage: interrupted") and "Traceback" not in done.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no half run, no temporary folder


def test_sigterm_during_detect_cleans_up_too(tmp_path):
    out = tmp_path / "out"
    done = _run_until([*CLI, "detect", str(FIXTURE), "--out", str(out)], "✓ read", signal.SIGTERM)
    assert done.returncode == 143, done.stderr
    assert done.stderr.rstrip().endswith("linkage: terminated") and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def _silent_server():
    """A TCP port that accepts connections and never answers: a Neo4j that hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"bolt://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_ctrl_c_during_a_query_says_interrupted(tmp_path):
    with _silent_server() as uri:
        done = _run_until([*CLI, "query", "run", "top-rings", "-p", "limit=5", "--neo4j-uri", uri], None, signal.SIGINT, after=4)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "linkage: interrupted", done.stderr


def test_ctrl_c_during_a_load_says_interrupted(fixture_world_run):
    with _silent_server() as uri:
        done = _run_until([*CLI, "load", str(fixture_world_run), "--neo4j-uri", uri], None, signal.SIGINT, after=6)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "linkage: interrupted", done.stderr


def test_a_closed_pipe_ends_quietly():
    """`linkage query list | head -1` once head has gone: no BrokenPipeError, no traceback."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([*CLI, "query", "list"], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode == 141


def test_head_reads_the_first_line():
    done = subprocess.run(" ".join([*CLI, "query", "list"]) + " | head -1", shell=True, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.startswith("id") and done.stderr == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("args", [["query", "list"], ["query", "show", "top-rings"], ["--help"]])
def test_stdout_on_a_full_device_is_one_line(args):
    with open("/dev/full", "w") as full:
        done = subprocess.run([*CLI, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1
    assert "No space left on device" in _one_line(done.stderr)


@pytest.mark.parametrize("content", [b"\x00\x01\xff\xfe\x80binary", bytes(range(256)) * 20,
                                     b"account_id,operator,cohort\n\"unclosed,x,y\n"])
def test_eval_on_a_binary_or_broken_truth_file_is_one_line(fixture_world_run, tmp_path, content):
    truth = tmp_path / "truth.csv"
    truth.write_bytes(content)
    res = CliRunner().invoke(main, ["eval", str(fixture_world_run), str(truth)])
    assert res.exit_code == 2
    assert "truth.csv" in _one_line(res.output)
