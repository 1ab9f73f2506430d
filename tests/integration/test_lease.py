"""One writer at a time: the load lease, against a real Neo4j and real concurrent processes.

Two ``linkage load`` at once used to both exit 0 and double requests, payments
and LINKED. Now the second refuses (or waits with ``--wait``), a holder that
died is taken over, and a writer whose lease was taken over cannot commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from storekit import census

from linkage.cli import main
from linkage.store.connection import run_query
from linkage.store.lease import Lease, LeaseHeld, LeaseLost
from linkage.store.load import Writer, load_run

FOREIGN = """
CREATE (:LoadLock {name: 'load', owner: 'someone-else', host: 'elsewhere.example', pid: 4242, task: 'load day-7',
                   since: datetime(), expires: datetime() + duration({seconds: $seconds})})
"""


def _lock(driver, settings) -> dict | None:
    got = run_query(driver, settings, "lock", "MATCH (l:LoadLock) RETURN properties(l) AS p")
    return got[0]["p"] if got else None


def _cli(run_dir, settings, *extra) -> subprocess.Popen:
    """``linkage load`` in a process of its own, small chunks so that it runs for a while."""
    env = {**os.environ, "LINKAGE_LOAD_BATCH_ROWS": "300", "NEO4J_URI": settings.uri,
           "NEO4J_DATABASE": settings.database}
    return subprocess.Popen([sys.executable, "-m", "linkage.cli", "load", str(run_dir), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_loads_at_once_never_double_count(neo4j_driver, neo4j_settings, clean_db, wiper, fixture_world_run):
    load_run(neo4j_driver, neo4j_settings, fixture_world_run)
    reference = census(neo4j_driver, neo4j_settings)
    wiper()
    first = _cli(fixture_world_run, neo4j_settings)
    deadline = time.monotonic() + 300
    while _lock(neo4j_driver, neo4j_settings) is None and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, "the first load ended before a second could start beside it"
    refused = _cli(fixture_world_run, neo4j_settings)
    waiting = _cli(fixture_world_run, neo4j_settings, "--wait", "600")
    _, err = refused.communicate(timeout=300)
    assert first.poll() is None  # refused while the first still ran
    assert refused.returncode != 0
    assert err.strip().count("\n") == 0 and "another load is writing to Neo4j" in err and "--wait" in err
    assert first.wait(timeout=600) == 0
    _, err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, err
    assert "waiting for the load lease" in err
    assert census(neo4j_driver, neo4j_settings) == reference  # exact: nothing counted twice
    assert _lock(neo4j_driver, neo4j_settings) is None  # released


def test_a_live_foreign_lease_refuses_with_one_line_naming_its_holder(neo4j_driver, neo4j_settings, clean_db,
                                                                     fixture_world_run):
    Lease(neo4j_driver, neo4j_settings).acquire().release()  # the schema, so the lock below is the only one
    run_query(neo4j_driver, neo4j_settings, "foreign lock", FOREIGN, {"seconds": 600}, write=True)
    res = CliRunner().invoke(main, ["load", str(fixture_world_run)])
    assert res.exit_code != 0
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert "elsewhere.example pid 4242 (load day-7)" in res.output
    assert census(neo4j_driver, neo4j_settings)["nodes"] == {"LoadLock": 1}  # nothing written


def test_an_expired_lease_is_taken_over(neo4j_driver, neo4j_settings, clean_db):
    Lease(neo4j_driver, neo4j_settings).acquire().release()
    run_query(neo4j_driver, neo4j_settings, "expired lock", FOREIGN, {"seconds": -5}, write=True)
    lease = Lease(neo4j_driver, neo4j_settings, task="test").acquire()
    try:
        assert lease.took_over is not None and lease.took_over.host == "elsewhere.example"
        assert _lock(neo4j_driver, neo4j_settings)["owner"] == lease.token
    finally:
        lease.release()


def test_a_dead_holder_on_this_host_is_taken_over_at_once(neo4j_driver, neo4j_settings, clean_db):
    """A load killed with -9 leaves an unexpired lease; its re-run must not wait a minute for it."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = Lease(neo4j_driver, neo4j_settings, task="killed")
    holder.pid, holder.started = dead.pid, None
    holder.acquire()
    holder._stop.set()  # as if killed: no more renewals, and no release
    lease = Lease(neo4j_driver, neo4j_settings).acquire(wait=0)
    try:
        assert lease.took_over is not None and lease.took_over.pid == dead.pid
    finally:
        lease.release()


def test_a_second_lease_waits_then_gives_up(neo4j_driver, neo4j_settings, clean_db):
    with Lease(neo4j_driver, neo4j_settings, task="first").acquire():
        seen = []
        t0 = time.monotonic()
        with pytest.raises(LeaseHeld, match=r"pid \d+ \(first\)"):
            Lease(neo4j_driver, neo4j_settings).acquire(wait=1.5, on_wait=seen.append)
        assert time.monotonic() - t0 >= 1.5 and len(seen) == 1


def test_a_writer_whose_lease_was_taken_over_cannot_commit(neo4j_driver, neo4j_settings, clean_db):
    stalled = Lease(neo4j_driver, neo4j_settings, task="stalled", ttl=1).acquire()
    stalled._stop.set()  # it stalls: no heartbeat
    stalled.host = "elsewhere.example"  # so the new writer cannot tell it died; it must wait for the expiry
    run_query(neo4j_driver, neo4j_settings, "stall", "MATCH (l:LoadLock) SET l.host = 'elsewhere.example'",
              write=True)
    time.sleep(1.5)
    with Lease(neo4j_driver, neo4j_settings, task="new").acquire():
        writer = Writer(neo4j_driver, neo4j_settings, lease=stalled)
        with pytest.raises(LeaseLost, match="taken over"):
            writer.query("late write", "CREATE (:Account {account_id: 'late'})")
        gone = run_query(neo4j_driver, neo4j_settings, "late", "MATCH (a:Account {account_id: 'late'}) RETURN a")
        assert gone == []  # rolled back with the fence
