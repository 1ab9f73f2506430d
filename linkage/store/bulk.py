"""Bulk path for a FIRST load: a detect run as neo4j-admin import CSV, and the offline import itself.

Batched writes (``load.load_run``) reach some tens of thousands of
relationships/s on a 2-core machine, where server and client share the cores;
the offline importer writes the store files directly (about 120k
relationships/s there, 21M relationships in under five minutes end to end:
``benchmarks/neo4j_load.py``). It can only create a database, never add to
one, so this is for the first load of a graph; every later batch goes through
``load_run``.

``write_import_csv`` is pure DuckDB: each node label and relationship type of
``model`` becomes one header file and one data file written by
``COPY (SELECT ...) TO ... (FORMAT csv)``, with the selection rules of
``load.load_run`` (prompt shingles only when shared or matched by intel,
relationships only between nodes that exist, entity rarity from the incidence
counts and the ``Config`` family parameters, ring properties as
``load.ring_rows`` flattens them). Property names and types are those the
batched loader writes: integers as ``long``, floats as ``double``, times as
``datetime`` (epoch seconds, UTC, as ``load`` sends them), lists as arrays.

``import_run`` stops the local server of a home, runs the import tool from its
``lib/`` and starts the server again, then applies the schema.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .. import families
from ..config import Config
from ..errors import StoreError
from ..results import Operation, Ring
from ..run import RunFolder
from ..sql import literal
from . import rows, server
from .model import ENTITY, indicator_targets, label, node, rel_type
from .rows import BATCH_ROWS, epoch

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

#: Between the elements of an array value: a control character no id, path or text holds
#: (an element holding it would be split in two).
ARRAY_DELIMITER = "\x1f"
_ARRAY_FLAG = "U+001F"
#: Files with fewer rows than this are checked for values spanning lines (free text: intel notes...).
_MULTILINE_CHECK_ROWS = 1_000_000


# --- columns and tables: what goes into each file -------------------------------------------


@dataclass(frozen=True)
class Col:
    """One CSV column: header field (``name:type``; type ``string`` is the default) and its SQL."""

    name: str
    type: str
    sql: str

    @property
    def header(self) -> str:
        if self.type == "label":  # the importer's extra-labels column
            return ":LABEL"
        return f"{self.name}:{self.type}" if self.type != "string" else self.name

    @property
    def select(self) -> str:
        if self.type == "datetime":  # as load sends times: whole epoch seconds, UTC
            return f"strftime(to_timestamp({epoch(self.sql)}), '%Y-%m-%dT%H:%M:%SZ')"
        if self.type.endswith("[]"):
            return f"array_to_string({self.sql}, chr({ord(ARRAY_DELIMITER)}))"
        if self.type == "double":  # a whole double must not read as an integer
            return f"CAST({self.sql} AS DOUBLE)"
        return self.sql


def _node_cols(lbl: str, key_sql: str, *props: tuple[str, str, str]) -> list[Col]:
    nt = node(lbl)  # properties follow what load.py writes, which may run ahead of the model
    # a key that is not a string (ASN number) gets an unnamed id column and a typed property of its own
    key = "" if any(name == nt.key for name, _, _ in props) else nt.key
    return [Col(key, f"ID({lbl})", key_sql), *(Col(*p) for p in props)]


def _rel_cols(rtype: str, start: str, start_sql: str, end: str, end_sql: str,
              *props: tuple[str, str, str]) -> list[Col]:
    rel_type(rtype)  # properties follow what load.py writes (the model lists none for HAS_EMAIL_DOMAIN)
    return [Col("", f"START_ID({label(start)})", start_sql), Col("", f"END_ID({label(end)})", end_sql),
            *(Col(*p) for p in props)]


# --- the CSV files ------------------------------------------------------------------------


def write_import_csv(out_dir: str | Path, csv_dir: str | Path, config: Config | None = None, *,
                     compress: bool = False) -> dict[str, Any]:
    """Write neo4j-admin import files for the graph ``load.load_run`` would write from ``out_dir``.

    Returns a manifest (also written to ``csv_dir/manifest.json``): per label
    and type the row count and files, the batch id, the seconds taken, and the
    ``--nodes`` / ``--relationships`` arguments for ``neo4j-admin database import full``.
    ``compress`` writes gzip data files (smaller, slower to write and read).
    """
    t0 = time.perf_counter()
    run = RunFolder(Path(out_dir), need=("accounts", "incidence", "entities", "links", "ip_asn", "intel", "windows",
                                         "shingle_texts", "instruments"))
    config = config or run.config
    con = rows.open_run(run)
    try:
        con.execute("SET preserve_insertion_order = false")
        csv_dir = Path(csv_dir)
        csv_dir.mkdir(parents=True, exist_ok=True)
        _key_tables(con, config)
        _ring_tables(con, run.rings, run.batch_id)
        _operation_tables(con, run.operations, run.batch_id)
        chunks = _load_batch(con, config, run.batch_id, str(out_dir))
        manifest: dict[str, Any] = {"batch_id": run.batch_id, "out_dir": str(out_dir), "csv_dir": str(csv_dir),
                          "array_delimiter": _ARRAY_FLAG, "nodes": {}, "relationships": {}, "multiline": [],
                          "load_batch_chunks": len(chunks)}
        for n, (kind, name, cols, source) in enumerate(import_files(config, _ring_props(con))):
            written, files = _write(con, csv_dir, f"{n:02d}-{name}", cols, source, compress=compress)
            if written and written < _MULTILINE_CHECK_ROWS and _spans_lines(files[1], written):
                manifest["multiline"].append(str(files[1]))
            entry = manifest[kind].setdefault(name, {"count": 0, "files": []})
            entry["count"] += written
            if written:  # an empty group is left out of the import
                entry["files"].append([str(f) for f in files])
    finally:
        con.close()
    manifest["seconds"] = round(time.perf_counter() - t0, 3)
    manifest["args"] = admin_args(manifest)
    (csv_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def import_files(config: Config, ring_props: list[tuple[str, str, str]]) -> list[tuple[str, str, list[Col], str]]:
    """``(nodes|relationships, label or type, columns, SQL source)`` per import file; pure.

    The sources are the views of ``RunFolder.connect`` and the temp tables of
    ``_key_tables`` / ``_ring_tables`` / ``_load_batch``.
    """
    files: list[tuple[str, str, list[Col], str]] = []

    def node(lbl: str, key_sql: str, source: str, *props: tuple[str, str, str]) -> None:
        files.append(("nodes", lbl, _node_cols(lbl, key_sql, *props), source))

    def rel(rtype: str, start: tuple[str, str], end: tuple[str, str], source: str, *props: tuple[str, str, str]) -> None:
        files.append(("relationships", rtype, _rel_cols(rtype, *start, *end, *props), source))

    node("Account", "a.account_id", "accounts a LEFT JOIN account_ring m ON m.account_id = a.account_id",
         ("created_at", "datetime", "a.created_at"), ("email_domain", "string", "a.email_domain"),
         ("org_id", "string", "a.org_id"), ("country", "string", "a.country"),
         ("requests", "long", "a.requests"), ("hosting_requests", "long", "a.hosting_requests"),
         ("first_seen", "datetime", "a.first_seen"), ("last_seen", "datetime", "a.last_seen"),
         ("prompts", "long", "a.prompts"), ("focused", "long", "a.focused"),
         ("ring_id", "string", "m.ring_id"), ("ring_score", "double", "m.score"))
    rel("SEEN_IN", ("Account", "a.account_id"), ("LoadBatch", "b.batch_id"),
        "accounts a LEFT JOIN windows w USING (aid) CROSS JOIN load_batch b",
        ("requests", "long", "a.requests"), ("windows", "long[]", "w.windows"),
        ("window_requests", "long[]", "w.requests"))

    for fam in families.stored(config):
        assert fam.node is not None
        p = config.family(fam.name)
        lbl, rtype, name = fam.node.label, fam.node.rel_type, fam.name
        details = [(d, "string", f"k.{d}") for d in fam.node.details]
        # rarity as load's refresh computes it from the stored graph: n = accounts using the entity
        pair = (f"CASE WHEN n >= 2 AND n <= {int(p.cap)} "
                f"THEN {float(p.weight)!r} / pow(n - 1.0, {float(p.decay)!r}) ELSE 0.0 END")
        node(lbl, "k.key", f"(SELECT k.*, count(i.key) AS n FROM k_{name} k LEFT JOIN inc_{name} i "
                           f"USING (key) GROUP BY ALL) k",
             (":LABEL", "label", literal(ENTITY)), ("family", "string", literal(name)), ("key", "string", "k.key"),
             ("name", "string", "k.name"), *details, ("accounts", "long", "n"), ("hub", "boolean", f"n > {int(p.cap)}"),
             ("pair_weight", "double", pair), ("cap", "long", str(int(p.cap))))
        counter = [(fam.node.counter, "long", "n")] if fam.node.counter else []
        rel(rtype, ("Account", "account_id"), (lbl, "key"), f"inc_{name}",
            *counter, ("first", "datetime", "first"), ("last", "datetime", "last"))

    node("ASN", "CAST(asn AS VARCHAR)", "k_asn", ("number", "long", "asn"), ("hosting", "boolean", "hosting"))
    rel("IN_ASN", ("IP", "ip"), ("ASN", "CAST(asn AS VARCHAR)"), "ip_asn_kept")

    node("Indicator", "indicator_id", "indicators", ("operator", "string", "operator"), ("kind", "string", "kind"),
         ("value", "string", "value"), ("note", "string", "note"),
         ("matched", "boolean", "CASE WHEN indicator_id IN (SELECT indicator_id FROM points_to) THEN true END"))
    rel("KNOWN_FOR", ("Indicator", "indicator_id"), ("Operator", "operator"), "indicators")
    for kind, (target, _) in indicator_targets().items():  # one file per id space of the target
        rel("POINTS_TO", ("Indicator", "indicator_id"), (target, "target"),
            f"(SELECT indicator_id, target FROM points_to WHERE kind = {literal(kind)})")

    node("Operator", "name", "operators", ("known", "boolean", "known"), ("rings", "long", "rings"),
         ("accounts", "long", "accounts"))
    node("Ring", "ring_id", "rings_t", *ring_props)
    rel("ATTRIBUTED_TO", ("Ring", "ring_id"), ("Operator", "operator_node"), "rings_t",
        ("confidence", "double", "confidence"))
    rel("MEMBER_OF", ("Account", "account_id"), ("Ring", "ring_id"), "members")
    node("Operation", "operation_id", "operations_t", ("operator", "string", "operator"),
         ("operator_confidence", "double", "operator_confidence"), ("rings", "long", "rings"),
         ("accounts", "long", "accounts"), ("requests", "long", "requests"), ("score", "double", "score"),
         ("tools", "long", "tools"), ("tool_families", "string[]", "tool_families"),
         ("status", "string", "status"), ("batch_id", "string", "batch_id"))
    rel("PART_OF", ("Ring", "ring_id"), ("Operation", "operation_id"), "part_of")
    rel("LINKED", ("Account", "x.account_id"), ("Account", "y.account_id"),
        "links l JOIN accounts x ON x.aid = l.a JOIN accounts y ON y.aid = l.b",
        ("weight", "double", "l.weight"), ("signals", "string[]", "string_split(l.signals, ',')"),
        *((f"w_{f}", "double", f"l.w_{f}") for f in families.weighted(config)))

    node("LoadBatch", "batch_id", "load_batch", ("chunks", "string[]", "chunks"),
         ("chunk_rows", "long", "chunk_rows"), ("started", "datetime", "started"),
         ("completed", "datetime", "completed"), ("source", "string", "source"))
    return files


def _write(con: duckdb.DuckDBPyConnection, csv_dir: Path, stem: str, cols: list[Col], source: str, *,
           compress: bool) -> tuple[int, tuple[Path, Path]]:
    """One header file and one data file (``COPY (SELECT ...) TO``); returns the rows written."""
    header = ",".join(c.header for c in cols)
    head = csv_dir / f"{stem}.header.csv"
    head.write_text(header + "\n")
    data = csv_dir / (f"{stem}.csv.gz" if compress else f"{stem}.csv")
    select = ", ".join(f"{c.select} AS c{i}" for i, c in enumerate(cols))
    options = "FORMAT csv, HEADER false" + (", COMPRESSION gzip" if compress else "")
    written = con.execute(f"COPY (SELECT {select} FROM {source}) TO {literal(data)} ({options})").fetchall()[0][0]
    return int(written), (head, data)


def _spans_lines(data: Path, rows: int) -> bool:
    """True when a value holds a line break (more lines than rows): the importer must be told."""
    opener = gzip.open if data.suffix == ".gz" else open
    lines = 0
    with opener(data, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            lines += block.count(b"\n")
    return lines != rows


def _key_tables(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Node keys that exist, per label, and the account-entity incidence between them."""
    for fam in families.stored(config):
        name = fam.name
        con.execute(f"CREATE TEMP TABLE k_{name} AS SELECT * EXCLUDE (accounts, hub, pair_weight, cap) "
                    f"FROM ({rows.entity_sql(fam, config)})")
        con.execute(f"""CREATE TEMP VIEW inc_{name} AS
                        SELECT account_id, key, n, to_timestamp(first) AS first, to_timestamp(last) AS last
                        FROM ({rows.incidence_sql(fam)}) i SEMI JOIN k_{name} k USING (key)""")
    hosting = ", ".join(str(int(a)) for a in sorted(config.hosting_asns)) or "NULL"
    ip_keys = "(SELECT key FROM k_ip)" if "k_ip" in _tables(con) else "(SELECT NULL AS key)"
    con.execute(f"""CREATE TEMP TABLE ip_asn_kept AS
                    SELECT DISTINCT ip, CAST(asn AS BIGINT) AS asn FROM ip_asn
                    WHERE asn IS NOT NULL AND ip IN {ip_keys}""")
    con.execute(f"""CREATE TEMP TABLE k_asn AS
                    SELECT DISTINCT asn, asn IN ({hosting}) AS hosting FROM ip_asn_kept""")
    con.execute(f"""CREATE TEMP TABLE indicators AS
                    SELECT indicator_id, min(operator) AS operator, min(kind) AS kind, min(value) AS value,
                           min(note) AS note
                    FROM ({rows.INDICATORS_SQL}) GROUP BY 1""")
    targets = []
    for kind, (lbl, _) in indicator_targets().items():
        intel_fam = families.by_intel_kind().get(kind)
        if kind != "account" and (intel_fam is None or intel_fam.name not in config.families):
            continue
        if lbl == "Account":
            exists = "(SELECT account_id AS key FROM accounts)"
        elif lbl == "ASN":
            exists = "(SELECT asn AS key FROM k_asn)"
        else:
            assert intel_fam is not None
            exists = f"k_{intel_fam.name}"
        targets.append(f"SELECT DISTINCT {literal(kind)} AS kind, t.indicator_id, CAST(t.target AS VARCHAR) AS target "
                       f"FROM ({rows.indicator_target_sql(kind, config)}) t SEMI JOIN {exists} e ON e.key = t.target")
    con.execute("CREATE TEMP TABLE points_to AS " + " UNION ALL ".join(targets))


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _ring_tables(con: duckdb.DuckDBPyConnection, rings: list[Ring], batch: str) -> None:
    """Rings flattened by ``rows.ring_rows``, their operators and members, as DuckDB tables.

    Each ring carries what the batched load writes on it (``store.lineage.add_rings``): its lineage,
    ``status: 'active'`` and the batch, so a bulk-loaded graph is the batched one property for property.
    """
    import pyarrow as pa

    flat = rows.ring_rows(rings)  # with each ring's lineage
    for row in flat:
        row["props"] = {**row["props"], "status": "active", "batch_id": batch}
    always = {"score": pa.float64(), "size": pa.int64()}  # read by the SQL below, even with no rings
    props = [k for k in node("Ring").properties
             if k in always or any(r["props"].get(k) is not None for r in flat)]
    cols: dict[str, list[Any]] = {"ring_id": [r["ring_id"] for r in flat],
                             "operator_node": [r["operator_node"] for r in flat],
                             "known": [bool(r["known"]) for r in flat],
                             "confidence": [_num(r["confidence"]) for r in flat]}
    for k in props:
        cols[k] = [r["props"].get(k) for r in flat]
    fields = [pa.field("ring_id", pa.string()), pa.field("operator_node", pa.string()),
              pa.field("known", pa.bool_()), pa.field("confidence", pa.float64())]
    fields += [pa.field(k, _arrow_type(cols[k]) if any(v is not None for v in cols[k]) else always.get(k, pa.string()))
               for k in props]
    for f in fields:
        if f.type == pa.float64():
            cols[f.name] = [_num(v) for v in cols[f.name]]
    table = pa.table(cols, schema=pa.schema(fields))
    con.register("ring_arrow", table)
    con.execute("CREATE TEMP TABLE rings_t AS SELECT * FROM ring_arrow")
    source = "ring_members" if "ring_members" in _tables(con) else \
        "(SELECT CAST(NULL AS VARCHAR) AS ring_id, CAST(NULL AS VARCHAR) AS account_id WHERE false)"
    con.execute(f"""CREATE TEMP TABLE members AS
                    SELECT DISTINCT m.account_id, m.ring_id
                    FROM {source} m
                    SEMI JOIN accounts a ON a.account_id = m.account_id
                    SEMI JOIN rings_t r ON r.ring_id = m.ring_id""")
    # load's MEMBERS sets ring_id/ring_score on the account; one ring per account (the last wins there)
    con.execute("""CREATE TEMP TABLE account_ring AS
                   SELECT m.account_id, max(m.ring_id) AS ring_id, arg_max(r.score, m.ring_id) AS score
                   FROM members m JOIN rings_t r USING (ring_id) GROUP BY 1""")
    con.execute("""CREATE TEMP TABLE operators AS
                   SELECT name, bool_or(known) AS known, CAST(sum(rings) AS BIGINT) AS rings,
                          CAST(coalesce(sum(accounts), 0) AS BIGINT) AS accounts
                   FROM (SELECT DISTINCT operator AS name, true AS known, 0 AS rings, 0 AS accounts FROM intel
                         UNION ALL SELECT operator_node, known, 1, size FROM rings_t)
                   GROUP BY name""")


def _operation_tables(con: duckdb.DuckDBPyConnection, operations: Sequence[Operation], batch: str) -> None:
    """``operations_t`` (flattened by ``rows.operation_rows``, active in ``batch`` as the batched load
    writes them) and ``part_of`` (ring, operation) of stored rings."""
    flat = rows.operation_rows(operations)
    con.execute("""CREATE TEMP TABLE operations_t (operation_id VARCHAR, operator VARCHAR, operator_confidence DOUBLE,
                   rings BIGINT, accounts BIGINT, requests BIGINT, score DOUBLE, tools BIGINT,
                   tool_families VARCHAR[], status VARCHAR, batch_id VARCHAR)""")
    con.execute("CREATE TEMP TABLE part_of_all (ring_id VARCHAR, operation_id VARCHAR)")
    props = ("operator", "operator_confidence", "rings", "accounts", "requests", "score", "tools", "tool_families")
    if flat:
        con.executemany("INSERT INTO operations_t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [[r["operation_id"], *(r["props"][k] for k in props), "active", batch] for r in flat])
    pairs = [[ring, r["operation_id"]] for r in flat for ring in r["ring_ids"]]
    if pairs:
        con.executemany("INSERT INTO part_of_all VALUES (?, ?)", pairs)
    con.execute("CREATE TEMP TABLE part_of AS SELECT DISTINCT * FROM part_of_all SEMI JOIN rings_t USING (ring_id)")


def _ring_props(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """Ring property columns with the Neo4j type of the values load would send."""
    names = {"VARCHAR": "string", "BIGINT": "long", "DOUBLE": "double", "BOOLEAN": "boolean",
             "VARCHAR[]": "string[]", "BIGINT[]": "long[]", "DOUBLE[]": "double[]"}
    out = []
    for name, typ, *_ in con.execute("DESCRIBE rings_t").fetchall():
        if name in node("Ring").properties and name != "ring_id":
            out.append((name, names.get(typ, "string"), name if typ in names else f"CAST({name} AS VARCHAR)"))
    return out


def _arrow_type(values: list[Any]) -> pa.DataType:
    """The Arrow type for one ring property, as the driver would type the Python values."""
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pa.float64()
    if all(isinstance(v, list) for v in present):
        items = [x for v in present for x in v]
        if items and all(isinstance(x, int) and not isinstance(x, bool) for x in items):
            return pa.list_(pa.int64())
        if items and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in items):
            return pa.list_(pa.float64())
        return pa.list_(pa.string())
    return pa.string()


def _num(v: object) -> object:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _load_batch(con: duckdb.DuckDBPyConnection, config: Config, batch_id: str, source: str) -> list[str]:
    """The ``LoadBatch`` node ``load_run`` leaves behind, with every recorded step marked done.

    ``load_run`` cuts each additive step (accounts, account-entity
    relationships) into chunks of the batch's ``chunk_rows`` rows
    (``rows.chunk_name``), and skips a chunk the batch's node already records
    (LINKED and rings are written as differences, with no chunks). So a re-run of
    the bulk-loaded batch adds nothing, and a later batch (another id) adds its
    figures on top.
    """
    steps = {"accounts": "SELECT count(*) FROM accounts a LEFT JOIN windows w USING (aid)"}
    for fam in families.stored(config):
        assert fam.node is not None
        steps[f"{fam.node.rel_type} relationships"] = f"SELECT count(*) FROM inc_{fam.name}"
    chunks = []
    for step, sql in steps.items():
        total = con.execute(sql).fetchall()[0][0]
        chunks += [rows.chunk_name(step, k) for k in range(rows.chunk_count(total, BATCH_ROWS))]
    now = datetime.now(timezone.utc)
    con.execute("CREATE TEMP TABLE load_batch AS SELECT ? AS batch_id, ?::VARCHAR[] AS chunks, ? AS chunk_rows, "
                "?::TIMESTAMPTZ AS started, ?::TIMESTAMPTZ AS completed, ? AS source",
                [batch_id, chunks, BATCH_ROWS, now, now, source])
    return chunks


def admin_args(manifest: dict[str, Any]) -> list[str]:
    """``--nodes=`` / ``--relationships=`` and parsing options for ``neo4j-admin database import full``."""
    args = []
    for kind, flag in (("nodes", "--nodes"), ("relationships", "--relationships")):
        for name, entry in manifest[kind].items():
            for head, data in entry["files"]:
                args.append(f"{flag}={name}={head},{data}")
    args.append(f"--array-delimiter={manifest['array_delimiter']}")
    if manifest["multiline"]:
        args += ["--multiline-fields-format=v2", "--multiline-fields=" + ",".join(manifest["multiline"])]
    return args


# --- the import -------------------------------------------------------------------------


def import_command(java: str, home: Path, database: str, manifest: dict[str, Any], *, heap: str = "2g",
                   max_off_heap: str = "50%", threads: int | None = None) -> list[str]:
    """The ``neo4j-admin database import full`` command line, run as ``AdminTool`` from ``<home>/lib``."""
    return [
        java, f"-Xmx{heap}", *server.ADMIN_JVM_FLAGS, "-cp", str(home / "lib" / "*"), server.ADMIN_TOOL,
        "database", "import", "full", database, "--overwrite-destination=true", "--high-parallel-io=off",
        f"--max-off-heap-memory={max_off_heap}", f"--report-file={home / 'logs' / 'import.report'}",
        *([f"--threads={threads}"] if threads else []), *admin_args(manifest),
    ]  # fmt: skip


def _local_home(home: Path) -> dict[str, Any]:
    """The settings a linkage server of ``home`` runs with, or StoreError if it is not one."""
    conf = home / "conf" / "neo4j.conf"
    try:
        text = conf.read_text()
    except OSError:
        text = ""
    ports = server.read_ports(text)
    if not text.startswith("# Written by linkage.store.server") or ports is None \
            or not any((home / "lib").glob("neo4j-import-tool-*.jar")):
        raise StoreError(f"{home} is not a local linkage Neo4j home (start it once with linkage neo4j start): "
                         "the bulk import only replaces the database of a server linkage runs")
    found = dict(re.findall(r"^server\.memory\.(heap\.max_size|pagecache\.size)=(\S+)\s*$", text, re.M))
    return {"bolt_port": ports[0], "http_port": ports[1], "heap": found.get("heap.max_size", "1g"),
            "pagecache": found.get("pagecache.size", "512m")}


def import_run(out_dir: str | Path, home: str | Path | None = None, *, database: str = "neo4j",
               config: Config | None = None, password: str | None = None, csv_dir: str | Path | None = None,
               keep_csv: bool = False, compress: bool = False, heap: str = "2g", max_off_heap: str = "50%") -> dict[str, Any]:
    """Bulk-load the detect run in ``out_dir`` into the local server of ``home``: FIRST LOAD ONLY.

    This REPLACES the database ``database`` (``--overwrite-destination``):
    whatever it held is gone (Community edition: the default database,
    ``neo4j``). Steps: write the import CSV (``write_import_csv``), stop the
    server, run ``neo4j-admin database import full``, start the server with
    its previous ports and memory, apply the schema (constraints and indexes
    are built after the import, on the loaded data).

    Later batches go through the batched ``load.load_run``, which is idempotent
    on top of a bulk-loaded graph: the import writes the batch's ``LoadBatch``
    node as ``load_run`` leaves it, ``chunk_rows`` and every additive chunk
    (``"<step>#<k>"`` for k below rows / chunk_rows) recorded as done, so re-running ``load_run`` on the same run adds nothing
    as long as it cuts its chunks at exactly ``chunk_rows`` rows; a new batch
    adds its requests, payments and windows to the imported figures, adds
    new nodes and relationships, replaces the LINKED pairs of its accounts and
    recomputes entity rarity.
    If the import itself fails the server stays stopped and the database is
    incomplete: run ``import_run`` again.

    Refuses (StoreError) when ``home`` is not a local linkage server home.
    Returns counts per label and type and timings: ``csv_s``, ``stop_s``,
    ``import_s``, ``start_s``, ``schema_s``, ``seconds`` (all of them) and
    ``relationships_per_s`` (over ``seconds``; ``import_relationships_per_s``
    over the import alone).
    """
    from . import schema
    from .connection import DEV_PASSWORD, Settings, connect

    home = Path(home).expanduser().resolve() if home is not None else server.default_home()
    previous = _local_home(home)
    password = password or os.environ.get("NEO4J_PASSWORD") or DEV_PASSWORD
    java = server.java_executable()
    work = Path(csv_dir) if csv_dir is not None else home / "import" / f"linkage-bulk-{os.getpid()}"
    timings: dict[str, float] = {}
    try:
        t = time.perf_counter()
        manifest = write_import_csv(out_dir, work, config, compress=compress)
        timings["csv_s"] = time.perf_counter() - t
        log.info("bulk: import files for batch %s written in %.1fs", manifest["batch_id"], timings["csv_s"])

        t = time.perf_counter()
        server.stop(home)
        timings["stop_s"] = time.perf_counter() - t

        t = time.perf_counter()
        cmd = import_command(java, home, database, manifest, heap=heap, max_off_heap=max_off_heap)
        log_path = home / "logs" / "import.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as out:
            rc = subprocess.run(cmd, env=server.tool_env(home), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL).returncode
        timings["import_s"] = time.perf_counter() - t
        imported = _imported(log_path)
        log.info("bulk: neo4j-admin import exit %d in %.1fs: %s", rc, timings["import_s"], imported)
        if rc != 0:
            raise StoreError(f"neo4j-admin import failed (exit {rc}){_import_error(log_path)}: see {log_path}; "
                             "the database is incomplete, run the import again")
    finally:
        if not keep_csv and csv_dir is None:
            shutil.rmtree(work, ignore_errors=True)

    t = time.perf_counter()
    info = server.start(home, password=password, **previous)
    timings["start_s"] = time.perf_counter() - t

    t = time.perf_counter()
    settings = Settings(uri=info.bolt_uri, password=password, database=database)
    with connect(settings) as driver:
        schema.apply(driver, settings)
    timings["schema_s"] = time.perf_counter() - t

    seconds = sum(timings.values())
    rels = sum(e["count"] for e in manifest["relationships"].values())
    nodes = sum(e["count"] for e in manifest["nodes"].values())
    return {
        "batch_id": manifest["batch_id"], "database": database, "home": str(home),
        "nodes": nodes, "relationships": rels,
        "node_counts": {k: e["count"] for k, e in manifest["nodes"].items()},
        "relationship_counts": {k: e["count"] for k, e in manifest["relationships"].items()},
        "imported": imported,
        **{k: round(v, 3) for k, v in timings.items()}, "seconds": round(seconds, 3),
        "relationships_per_s": round(rels / seconds) if seconds else 0,
        "import_relationships_per_s": round(rels / timings["import_s"]) if timings["import_s"] else 0,
        "command": " ".join(import_command("java", home, database, manifest, heap=heap, max_off_heap=max_off_heap)),
    }


def _imported(log_path: Path) -> dict[str, Any]:
    """``{"nodes", "relationships", "properties"}`` from the tool's ``IMPORT DONE ... Imported:`` lines."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return {}
    found = {}
    for kind in ("nodes", "relationships", "properties"):
        match = re.search(rf"^\s*(\d+) {kind}\s*$", text, re.M)
        if match:
            found[kind] = int(match.group(1))
    return found


def _import_error(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in lines:
        if any(word in line for word in ("Exception", "ERROR", "Error:", "Invalid", "not found")):
            return f" ({line.strip()[:300]})"
    return ""
