"""The bulk first load (neo4j-admin import) builds the same graph as the batched loader.

One synthetic world, one detect run; the run goes into a server of its own
through ``bulk.import_run`` and into the shared test server through
``load.load_run``. The two graphs must hold the same nodes, relationships and
property values, down to types; only the ``LoadBatch`` bookkeeping times differ.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from linkage import detect
from linkage.cli import main
from linkage.errors import StoreError
from linkage.store import bulk, server
from linkage.store.connection import connect, run_query
from linkage.store.load import BATCH_ROWS, load_run
from linkage.store.model import NODES
from linkage.synth import generate

ACCOUNTS = 1_200


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _share_jars(home: Path, donors: list[Path]) -> None:
    """Hard-link the jars of a home that has them (no Maven download); ensure_jars fetches them otherwise."""
    for donor in donors:
        if (donor / "lib" / ".linkage-jars.json").is_file():
            for sub in ("lib", "plugins"):
                if (donor / sub).is_dir():
                    try:
                        shutil.copytree(donor / sub, home / sub, copy_function=os.link)
                    except OSError:  # another filesystem
                        shutil.rmtree(home / sub, ignore_errors=True)
                        shutil.copytree(donor / sub, home / sub)
            return


@pytest.fixture(scope="module")
def run_out(tmp_path_factory) -> Path:
    world = tmp_path_factory.mktemp("bulk_world")
    out = tmp_path_factory.mktemp("bulk_out")
    generate(world, seed=17, accounts=ACCOUNTS, fmt="parquet")
    detect(world, out=out)
    return out


@pytest.fixture(scope="module")
def bulk_db(run_out, neo4j_server, neo4j_settings, tmp_path_factory):
    """A server of its own (never the shared one), loaded end to end by ``linkage load --bulk --home HOME``
    (``bulk.import_run`` behind it); yields (driver, settings, the command's JSON result)."""
    home = tmp_path_factory.mktemp("bulk_neo4j")
    _share_jars(home, [h for h in (neo4j_server.home if neo4j_server else None, server.default_home()) if h])
    # a linkage home that has never run: import_run writes the store, then starts it with these ports
    (home / "conf").mkdir()
    (home / "conf" / "neo4j.conf").write_text(server.render_conf(
        home, bolt_port=_free_port(), http_port=_free_port(), heap="1g", pagecache="256m", apoc=False))
    settings = neo4j_settings.replace(database="neo4j")
    try:
        res = CliRunner().invoke(main, ["load", str(run_out), "--bulk", "--home", str(home), "--format", "json"],
                                 env={"NEO4J_PASSWORD": settings.password})
        assert res.exit_code == 0, res.output
        result = json.loads(res.output)
        settings = settings.replace(uri=server.status(home).bolt_uri)
        with connect(settings) as driver:
            yield driver, settings, result
    finally:
        server.stop(home, grace=3)  # a throwaway store: no need to wait for a clean shutdown


@pytest.fixture(scope="module")
def batched_db(run_out, neo4j_driver, neo4j_settings, wiper):
    """The shared test server, emptied, loaded with the batched ``load_run``."""
    wiper()
    load_run(neo4j_driver, neo4j_settings, run_out)
    return neo4j_driver, neo4j_settings


def _counts(db) -> tuple[dict, dict]:
    driver, settings = db[:2]
    nodes = {tuple(sorted(r["l"])): r["n"] for r in run_query(driver, settings, "test_bulk_node_counts",
                                                         "MATCH (n) RETURN labels(n) AS l, count(*) AS n")}
    rels = {r["t"]: r["n"] for r in run_query(driver, settings, "test_bulk_rel_counts",
                                                "MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n")}
    return nodes, rels


def _graph(db) -> list[str]:
    """Every node and relationship as a comparable line: keys, property values and their types."""
    driver, settings = db[:2]
    key = {lbl: n.key for lbl, n in NODES.items()}

    def props(p: dict, skip=()) -> str:
        return repr(sorted((k, type(v).__name__, repr(v)) for k, v in p.items() if k not in skip))

    lines = []
    for r in run_query(driver, settings, "test_bulk_nodes", "MATCH (n) RETURN labels(n) AS l, properties(n) AS p"):
        skip = ("started", "completed", "source", "chunks") if r["l"] == ["LoadBatch"] else ()
        lines.append(f"{sorted(r['l'])} {props(r['p'], skip)}")
    for r in run_query(driver, settings, "test_bulk_rels", """
            MATCH (a)-[r]->(b) RETURN [x IN labels(a) WHERE x <> 'Entity'][0] AS la, properties(a) AS pa,
                   type(r) AS t, properties(r) AS p, [x IN labels(b) WHERE x <> 'Entity'][0] AS lb,
                   properties(b) AS pb"""):
        start, end = r["pa"][key[r["la"]]], r["pb"][key[r["lb"]]]
        lines.append(f"{r['la']}:{start!r} -{r['t']} {props(r['p'])}-> {r['lb']}:{end!r}")
    return sorted(lines)


def test_same_counts_per_label_and_type(bulk_db, batched_db):
    bulk_nodes, bulk_rels = _counts(bulk_db)
    nodes, rels = _counts(batched_db)
    assert bulk_nodes == nodes
    assert bulk_rels == rels
    result = bulk_db[2]
    assert result["relationships"] == sum(rels.values()) == result["imported"]["relationships"]
    assert result["nodes"] == sum(nodes.values()) == result["imported"]["nodes"]
    assert {k for k, v in result["node_counts"].items() if v} == {lbl for labels in nodes for lbl in labels
                                                                   if lbl != "Entity"}


def test_same_graph_property_for_property(bulk_db, batched_db):
    assert _graph(bulk_db) == _graph(batched_db)


def test_spot_checks_against_the_evidence(bulk_db, batched_db, run_out):
    ev = duckdb.connect()
    ev.execute("SET TimeZone = 'UTC'")
    account, requests, created = ev.execute(f"""
        SELECT account_id, requests, epoch(created_at)
        FROM '{run_out}/evidence/accounts.parquet' ORDER BY requests DESC, account_id LIMIT 1""").fetchone()
    ip, users = ev.execute(f"""
        SELECT entity, count(*) FROM '{run_out}/evidence/incidence.parquet' WHERE family = 'ip'
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1""").fetchone()
    a, b, weight = ev.execute(f"""
        SELECT x.account_id, y.account_id, l.weight FROM '{run_out}/evidence/links.parquet' l
        JOIN '{run_out}/evidence/accounts.parquet' x ON x.aid = l.a
        JOIN '{run_out}/evidence/accounts.parquet' y ON y.aid = l.b ORDER BY l.weight DESC LIMIT 1""").fetchone()
    for driver, settings, *_ in (bulk_db, batched_db):
        got = run_query(driver, settings, "test_bulk_account",
                        "MATCH (a:Account {account_id: $id}) RETURN a.requests AS n, a.created_at AS c",
                        {"id": account})
        assert got[0]["n"] == requests
        assert got[0]["c"].to_native().timestamp() == round(created)
        got = run_query(driver, settings, "test_bulk_ip", "MATCH (i:IP {address: $ip}) RETURN i", {"ip": ip})[0]["i"]
        cap = 120  # Config().family("ip").cap
        assert got["accounts"] == users and got["hub"] == (users > cap)
        assert got["pair_weight"] == (1.0 / (users - 1) if 2 <= users <= cap else 0.0)
        got = run_query(driver, settings, "test_bulk_link",
                        "MATCH (:Account {account_id: $a})-[l:LINKED]->(:Account {account_id: $b}) RETURN l",
                        {"a": a, "b": b})
        assert got[0]["l"]["weight"] == weight


def test_constraints_are_applied_after_the_import(bulk_db):
    driver, settings, _ = bulk_db
    names = {r["name"] for r in run_query(driver, settings, "test_bulk_constraints", "SHOW CONSTRAINTS YIELD name")}
    assert {"account_id", "ip_address", "ring_id", "load_batch_id"} <= names


def test_the_batch_is_recorded_as_loaded(bulk_db, run_out):
    driver, settings, result = bulk_db
    got = run_query(driver, settings, "test_bulk_batch", "MATCH (b:LoadBatch) RETURN b")
    assert [r["b"]["batch_id"] for r in got] == [result["batch_id"]]
    batch = got[0]["b"]
    assert batch["completed"] is not None and batch["source"] == str(run_out)
    assert batch["chunk_rows"] == BATCH_ROWS and "accounts#0" in batch["chunks"]
    assert not any(c.startswith("LINKED") for c in batch["chunks"])  # links are written as a difference


def _chunks_are_exact() -> bool:
    """Does load cut every chunk but the last at exactly the requested size (not at DuckDB's own batches)?"""
    from linkage.store import rows as load_rows

    con = duckdb.connect()
    con.execute("SET threads = 4")  # several threads give DuckDB's reader short record batches
    query = "SELECT range AS x FROM range(200000) WHERE range % 3 = ? ORDER BY x"  # with parameters, as load's
    sizes = [len(rows) for rows in load_rows.batches(con, query, [0], size=25_000)]
    return sum(sizes) == 66_667 and all(n == 25_000 for n in sizes[:-1])


@pytest.mark.xfail(not _chunks_are_exact(), strict=True, run=False,
                   reason="store.rows.batches names chunks by DuckDB's record batches, whose boundaries vary with "
                          "threads, so a re-run cuts chunks that were never recorded and counts them again")
def test_load_run_of_the_same_batch_adds_nothing(bulk_db, run_out):
    """Later loads go through load_run on top of the bulk graph; the bulk-loaded batch is not counted twice."""
    driver, settings, _ = bulk_db
    before = _graph(bulk_db)
    load_run(driver, settings, run_out)
    assert _graph(bulk_db) == before


def test_refuses_a_home_that_is_not_a_linkage_server(tmp_path, run_out):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "neo4j.conf").write_text("server.bolt.listen_address=:7687\n")
    with pytest.raises(StoreError) as err:
        bulk.import_run(run_out, tmp_path)
    assert "not a local linkage Neo4j home" in str(err.value)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "data").exists()
