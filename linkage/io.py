"""Read and validate one input batch (data contract v1) into DuckDB.

Everything is columnar: each file is scanned by DuckDB (Parquet) or by a vectorised record
splitter (CSV, JSON lines; ``linkage.read.records``), each rule is a SQL expression
(``linkage.read.rules``), and a row that breaks any rule goes to the ``rejected`` table with
its file, line, every reason it fails and a safe view of the value, instead of vanishing.
Every file is accounted for: records read = rows kept + rows rejected, or the read stops.
A missing table or required column, a column given twice, or an unreadable file stops the
run with one line naming it.

``line`` is the physical line a record starts on (the CSV header is line 1, so the first data
row is line 2; a quoted prompt spanning lines does not shift later numbers); for Parquet it
is the record number, from 1. ``docs/input.md`` is the user's guide to all of this.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .errors import ConfigError, InputError, LinkageError
from .read import rules as R
from .read.contract import (
    CONTRACT,
    INTEL_KINDS,
    MAX_FIELD_BYTES,
    OPTIONAL_TABLES,
    SUFFIXES,
    TIME_RANGE,
    UNUSED,
    record_limit,
    size_text,
)
from .read.sources import JsonLinesSource, ParquetSource, Source, duckdb_problem, find_table, open_source
from .safetext import csv_safe_query
from .sql import literal, strings

if TYPE_CHECKING:
    from .stix.intake import StixIntel

__all__ = ["CONTRACT", "INTEL_KINDS", "MAX_FIELD_BYTES", "OPTIONAL_TABLES", "SUFFIXES", "TIME_RANGE", "Batch",
           "connect", "default_memory_limit", "find_table", "read_batch", "write_rejected"]

REJECTED_COLUMNS = '(file VARCHAR, line BIGINT, "column" VARCHAR, reason VARCHAR, value VARCHAR)'


@dataclass
class Batch:
    """A validated batch held in one DuckDB connection.

    Tables: ``accounts(aid, account_id, created_at, email_domain, org_id, country)``,
    ``events(aid, ts, ip, asn, device_id, prompt)``,
    ``payments(aid, instrument_id, instrument_type, bin, ts)``,
    ``intel(operator, kind, value, note)`` and ``rejected(file, line, column, reason, value)``.
    ``aid`` is a dense integer id, the rank of ``account_id``: the same input gives the same ids.
    ``records`` says, per input file, how many records were read, kept and rejected.
    """

    con: duckdb.DuckDBPyConnection
    folder: Path
    files: dict[str, str] = field(default_factory=dict)
    #: Content digest of the input files: the same batch loaded twice is recognised as such.
    batch_id: str = ""
    records: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Accounts the batch itself holds, when ``accounts`` also holds accounts known from a state (``linkage.state``).
    own_accounts: int | None = None

    def count(self, table: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])

    def counts(self) -> dict[str, Any]:
        """Rows per table, and ``records``: ``{file: {read, kept, rejected}}``."""
        totals: dict[str, Any] = {t: self.count(t) for t in ("accounts", "events", "payments", "intel", "rejected")}
        if self.own_accounts is not None:
            totals["accounts"] = self.own_accounts
        totals["records"] = {name: dict(figures) for name, figures in self.records.items()}
        return totals


#: Share of the machine's memory DuckDB may hold before it spills to disk. The rest is headroom for
#: the Python side (the link arrays, igraph, pandas frames of communities) and the page cache.
MEMORY_SHARE = 0.6


def default_memory_limit() -> str:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(1, int(total * MEMORY_SHARE / 1024 ** 3))}GB"


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB bounded to ``memory_limit`` (default: 60% of the machine), spilling to the temp dir."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # stages report their own progress
    # Row order is always stated where it matters (ORDER BY); not keeping it lets big writes stream.
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET temp_directory = ?", [str(Path(tempfile.gettempdir()) / f"linkage-duckdb-{os.getpid()}")])
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    try:
        con.execute("SET memory_limit = ?", [memory_limit or default_memory_limit()])
    except duckdb.Error:
        raise ConfigError(f"memory limit {memory_limit!r} is not a size like 8GB or 512MB") from None
    return con


def write_rejected(con: duckdb.DuckDBPyConnection, path: str | Path) -> Path:
    """``rejected.csv``, ordered by file and line: the one writer, for ``detect`` and ``validate``.

    Written beside the target and moved into place, so a symlink planted at ``path`` is
    replaced, never followed, and a failed write leaves no half file. Text cells are
    neutralised against spreadsheet formulas (``linkage.safetext``) like every CSV linkage writes.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        query = csv_safe_query(con, "SELECT * FROM rejected ORDER BY file, line")  # the one CSV rule
        con.execute(f"COPY ({query}) TO {literal(partial)} (FORMAT csv, HEADER true)")
        os.replace(partial, path)
    except (duckdb.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise LinkageError(f"{path}: cannot write ({duckdb_problem(exc) if isinstance(exc, duckdb.Error) else exc})"
                           ) from None
    return path


# --- reading -----------------------------------------------------------------------------------------


def read_batch(folder: str | Path, con: duckdb.DuckDBPyConnection | None = None, *,
               max_field_bytes: int = MAX_FIELD_BYTES, extra_intel: StixIntel | None = None,
               known_accounts: str | None = None) -> Batch:
    """Read, validate and index one batch folder; raise InputError on contract breaks.

    ``max_field_bytes`` is the largest value a field may hold (default 1 MB); a longer one
    rejects its row with that reason. Records (CSV rows, JSON lines) longer than
    ``max(64 MB, 4 × max_field_bytes)`` are rejected whole. ``extra_intel`` (a
    :class:`linkage.stix.intake.StixIntel`) names STIX bundles to read as more intel; a bundle
    in the folder (``intel.stix.json``) is read either way. ``known_accounts`` names a relation of
    accounts earlier batches brought (``linkage.state``): they join ``accounts`` before the
    requests and payments are read, so a request of an account that signed up on an earlier day
    is not unknown. A known account the batch lists again takes the batch's attributes.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    if max_field_bytes < 1:
        raise ConfigError(f"max field bytes must be positive, not {max_field_bytes}")
    con = con or connect()
    con.execute(f"CREATE OR REPLACE TEMP TABLE rejected {REJECTED_COLUMNS}")
    batch = Batch(con=con, folder=folder)
    sources: dict[str, Source] = {}
    try:
        for table in CONTRACT:  # every file is opened (header, columns) before the big table is read
            path = find_table(folder, table)
            if path is None:
                if table in OPTIONAL_TABLES:
                    continue
                raise InputError(f"{folder}: no {table} table (expected {table}.csv, .csv.gz, .parquet or .jsonl)")
            batch.files[table] = path.name
            sources[table] = _open(con, table, path, record_limit(max_field_bytes))
        reader = _Reader(con, max_field_bytes)
        reader.accounts(sources["accounts"])
        if known_accounts is not None:
            batch.own_accounts = batch.count("accounts")
            _add_known_accounts(con, known_accounts)
        reader.events(sources["events"])
        reader.payments(sources["payments"])
        reader.intel(sources.get("intel"))
        _add_stix_intel(con, batch, extra_intel)
        batch.records = reader.records
    finally:
        for source in sources.values():
            source.close(con)
    batch.batch_id = _digest(folder, batch.files)
    return batch


def _add_known_accounts(con: duckdb.DuckDBPyConnection, known: str) -> None:
    """``accounts`` = the batch's accounts plus the known ones it does not list, ``aid`` re-ranked over both."""
    con.execute(f"""
        CREATE OR REPLACE TABLE accounts AS
        SELECT CAST(row_number() OVER (ORDER BY account_id) - 1 AS INTEGER) AS aid, *
        FROM (SELECT account_id, created_at, email_domain, org_id, country FROM accounts
              UNION ALL
              SELECT account_id, created_at, email_domain, org_id, country FROM {known}
              WHERE account_id NOT IN (SELECT account_id FROM accounts))""")


def _add_stix_intel(con: duckdb.DuckDBPyConnection, batch: Batch, extra_intel: StixIntel | None) -> None:
    """STIX 2.1 bundles (``--intel`` files, ``intel.stix.json`` in the folder) as more intel rows."""
    from .stix.intake import add_bundle_intel

    add_bundle_intel(con, batch, extra_intel)


def _open(con: duckdb.DuckDBPyConnection, table: str, path: Path, max_record_bytes: int) -> Source:
    source = open_source(table, path, max_record_bytes=max_record_bytes)
    if isinstance(source, ParquetSource):
        source.describe(con)
    elif isinstance(source, JsonLinesSource):
        source.discover(con)
    return source


def _digest(folder: Path, files: dict[str, str]) -> str:
    """sha1 over the input files' names and bytes (streamed; ~1 s per GB)."""
    h = hashlib.sha1()
    for table in sorted(files):
        h.update(files[table].encode() + b"\0")
        with open(folder / files[table], "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return "batch-" + h.hexdigest()[:16]


class _Reader:
    """Stages each table's file, checks it, keeps the good rows and accounts for every record."""

    def __init__(self, con: duckdb.DuckDBPyConnection, max_field_bytes: int):
        self.con = con
        self.limit = max_field_bytes
        self.records: dict[str, dict[str, int]] = {}

    # -- shared steps ---------------------------------------------------------------------------------

    def run(self, source: Source, sql: str, params: list[Any] | None = None) -> list[Any]:
        """Run one statement over ``source``; any failure comes back as one line naming the file."""
        try:
            rows = self.con.execute(sql, params or []).fetchall()
        except duckdb.Error as exc:
            source.finish()  # a read failure inside the scan explains the query's failure best
            raise InputError(f"{source.name}: cannot read the file ({duckdb_problem(exc)})") from None
        source.finish()
        return rows

    def projected(self, source: Source) -> str:
        """The file as ``__line, __error, raw_<column>`` for every contract column (absent ones NULL)."""
        required, optional = CONTRACT[source.table]
        cols = [f"raw_{c}" if c in source.types else f"CAST(NULL AS VARCHAR) AS raw_{c}" for c in (*required, *optional)
                if c not in UNUSED]
        return f"(SELECT __line, __error, {', '.join(cols)} FROM {source.relation(self.con)})"

    def sized(self, source: Source) -> list[R.Check]:
        """The field size limit, on every text column the file has."""
        limit = size_text(self.limit)
        return [R.Check(c, f"strlen(raw_{c}) > {self.limit}", R.text(f"{c} longer than {limit} (the field size limit)"))
                for c, t in source.types.items() if t == "VARCHAR"]

    def cap(self, col: str) -> str:
        return R.capped(f"raw_{col}", self.limit)

    def time_check(self, source: Source, col: str, required: bool) -> R.Check:
        sql_type = source.types.get(col, "VARCHAR")
        raw = f"raw_{col}"
        missing = R.blank(raw) if sql_type == "VARCHAR" else f"{raw} IS NULL"
        why = (f"CASE WHEN {missing} THEN {R.text('missing ' + col)} WHEN {R.time_syntax_ok(raw, sql_type)} "
               f"THEN {R.text(f'{col} out of range ({R.TIME_RANGE_TEXT})')} ELSE {R.text('unparseable ' + col)} END")
        bad = f"{col} IS NULL" if required else f"{col} IS NULL AND NOT {missing}"
        return R.Check(col, bad, why, R.shown(raw))

    def account_check(self, table: str) -> R.Check:
        """``account_id`` of events and payments: present, no card number, and in ``accounts``."""
        raw = "raw_account_id"
        why = (f"CASE WHEN {R.blank(raw)} THEN 'missing account_id' ELSE concat_ws('; ', "
               f"CASE WHEN {R.has_card(raw)} THEN 'account_id looks like a payment card number' END, "
               f"'unknown account_id (not in accounts)') END")
        return R.Check("account_id", "aid IS NULL", why, R.shown(raw))

    @staticmethod
    def described(checks: list[R.Check]) -> str:
        """``"column", reason, value`` of a failed row; a record-level error stands alone."""
        return (f"CASE WHEN __error IS NULL THEN {R.columns(checks)} END AS \"column\", "
                f"coalesce(__error, {R.reasons(checks)}) AS reason, "
                f"CASE WHEN __error IS NULL THEN {R.first_shown(checks)} END AS value")

    @staticmethod
    def flagged(checks: list[R.Check]) -> str:
        return R.flag([R.Check("", "__error IS NOT NULL", ""), *checks])

    def stage(self, source: Source, table: str, parsed: str, normal: str, checks: list[R.Check],
              join: str = "") -> None:
        """``staged_<table>``: every record with its line, values and reasons; the rejects go to ``rejected``.

        For the small tables the line and reasons of every row are kept until the good rows are
        chosen; ``events`` does not (see :meth:`events`).
        """
        self.run(source, f"""
            CREATE OR REPLACE TEMP TABLE staged_{table} AS
            SELECT *, {self.flagged(checks)} AS bad FROM (
                SELECT *, {normal} FROM (SELECT s.*, {parsed} FROM {self.projected(source)} s {join}))""")
        self.con.execute(f"""
            INSERT INTO rejected SELECT ?, __line, {self.described(checks)}
            FROM (SELECT *, {R.failures(checks)} FROM staged_{table} WHERE bad)""", [source.name])

    def account(self, source: Source, kept: str) -> None:
        """Check that every record of ``source`` is kept or rejected, once: ``kept`` counts the kept rows."""
        read = source.records(self.con)
        kept_n = self.con.execute(f"SELECT count(*) FROM {kept}").fetchall()[0][0]
        rejected = self.con.execute("SELECT count(*) FROM rejected WHERE file = ?", [source.name]).fetchall()[0][0]
        self.records[source.name] = {"read": read, "kept": kept_n, "rejected": rejected}
        if read != kept_n + rejected:
            raise InputError(f"{source.name}: {read:,} records read but {kept_n:,} kept and {rejected:,} rejected; "
                             "some records are unaccounted for (please report this)")

    # -- tables ---------------------------------------------------------------------------------------

    def accounts(self, source: Source) -> None:
        t = source.types
        parsed = f"{R.parse_time('raw_created_at', t['created_at'])} AS p_created_at"
        normal = (f"trim({self.cap('account_id')}) AS account_id, {R.in_time_range('p_created_at')} AS created_at, "
                  f"nullif(lower(split_part(trim({self.cap('email')}), '@', 2)), '') AS email_domain, "
                  f"nullif(trim({self.cap('org_id')}), '') AS org_id, nullif(trim({self.cap('country')}), '') AS country")
        raw_id = "raw_account_id"
        checks = [*self.sized(source),
                  R.Check("account_id", f"{R.blank(raw_id)} OR {R.has_card(raw_id)}",
                          f"CASE WHEN {R.blank(raw_id)} THEN 'missing account_id' "
                          f"ELSE 'account_id looks like a payment card number' END", R.shown(raw_id)),
                  self.time_check(source, "created_at", required=True)]
        if "email" in t:
            checks.append(R.Check("email", f"NOT {R.blank('raw_email')} AND NOT {R.email_ok('raw_email')}",
                                  R.text("malformed email"), R.shown("raw_email")))
        self.stage(source, "accounts", parsed, normal, checks)
        self.con.execute(  # one account per id: the first good row wins, later good rows are rejected
            """INSERT INTO rejected
               SELECT ?, __line, 'account_id', 'duplicate account_id (line ' || first || ' kept)', left(account_id, 80)
               FROM (SELECT __line, account_id, min(__line) OVER (PARTITION BY account_id) AS first
                     FROM staged_accounts WHERE NOT bad) WHERE __line > first""", [source.name])
        self.con.execute(
            """CREATE OR REPLACE TABLE accounts AS
               SELECT CAST(row_number() OVER (ORDER BY account_id) - 1 AS INTEGER) AS aid, *
               FROM (SELECT account_id, created_at, email_domain, org_id, country FROM staged_accounts
                     WHERE NOT bad QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY __line) = 1)""")
        self.account(source, "accounts")
        self.con.execute("DROP TABLE staged_accounts")

    def events(self, source: Source) -> None:
        """Scan, check, type and key the requests in one pass: the table is tens of millions of rows.

        Kept rows carry one flag, not the line, reasons and values of a rejection (those would
        cost more memory than the requests themselves); rejected rows are described by a
        second scan, made only when there are any. Typed Parquet timestamps and AS numbers pass
        through unparsed. ``user_agent`` is accepted but not kept: no signal reads it.
        """
        t = source.types
        asn = R.asn("raw_asn", t["asn"]) if "asn" in t else "CAST(NULL AS BIGINT)"
        parsed = (f"a.aid, {R.parse_time('raw_ts', t['ts'])} AS p_ts, nullif(lower({R.tidy(self.cap('ip'))}), '') AS ip, "
                  f"{asn} AS asn")
        normal = (f"{R.in_time_range('p_ts')} AS ts, nullif({R.tidy(self.cap('device_id'))}, '') AS device_id, "
                  f"nullif({self.cap('prompt')}, '') AS prompt")
        asn_missing = R.blank("raw_asn") if t.get("asn", "VARCHAR") == "VARCHAR" else "raw_asn IS NULL"
        checks = [*self.sized(source),
                  self.account_check("events"),
                  self.time_check(source, "ts", required=True),
                  R.Check("ip", f"CASE WHEN ip IS NULL THEN false ELSE NOT {R.ip_ok('ip', normalised=True)} END",
                          R.text("malformed ip"), R.shown("raw_ip")),
                  R.Check("asn", f"CASE WHEN asn IS NULL THEN NOT {asn_missing} ELSE false END",
                          R.text("asn is not an integer AS number"), R.shown("raw_asn")),
                  R.Check("device_id", R.has_card("raw_device_id"),
                          R.text("device_id looks like a payment card number"), R.shown("raw_device_id"))]
        join = f"LEFT JOIN accounts a ON a.account_id = {R.tidy('s.raw_account_id')}"

        def checked() -> str:
            return f"""SELECT *, {self.flagged(checks)} AS bad FROM (
                           SELECT *, {normal} FROM (SELECT s.*, {parsed} FROM {self.projected(source)} s {join}))"""

        self.run(source, f"""CREATE OR REPLACE TABLE events_checked AS
                             SELECT aid, ts, ip, asn, device_id, prompt, bad AS rejected FROM ({checked()})""")
        read = source.records(self.con)
        flagged = self.con.execute("SELECT count(*) FILTER (WHERE rejected), count(*) FROM events_checked").fetchall()[0]
        if flagged[1] != read:
            raise InputError(f"{source.name}: {read:,} records read but {flagged[1]:,} checked (please report this)")
        if flagged[0]:
            self.run(source, f"""INSERT INTO rejected SELECT ?, __line, {self.described(checks)}
                                 FROM (SELECT *, {R.failures(checks)} FROM ({checked()}) WHERE bad)""", [source.name])
        self.con.execute("""CREATE OR REPLACE VIEW events AS
                            SELECT aid, ts, ip, asn, device_id, prompt FROM events_checked WHERE NOT rejected""")
        self.account(source, "events")

    def payments(self, source: Source) -> None:
        t = source.types
        parsed = f"a.aid, {R.parse_time('raw_ts', t.get('ts', 'VARCHAR'))} AS p_ts"
        normal = (f"trim({self.cap('instrument_id')}) AS instrument_id, "
                  f"nullif(lower(trim({self.cap('instrument_type')})), '') AS instrument_type, "
                  f"nullif(trim({self.cap('bin')}), '') AS bin, {R.in_time_range('p_ts')} AS ts")
        raw = "raw_instrument_id"
        checks = [*self.sized(source),
                  self.account_check("payments"),
                  R.Check("instrument_id", f"{R.blank(raw)} OR {R.has_card(raw)}",
                          f"CASE WHEN {R.blank(raw)} THEN 'missing instrument_id' ELSE "
                          f"'instrument_id looks like a raw card number (payments must carry tokens)' END",
                          R.card_only(raw))]
        if "ts" in t:
            checks.append(self.time_check(source, "ts", required=False))
        self.stage(source, "payments", parsed, normal, checks,
                   join=f"LEFT JOIN accounts a ON a.account_id = {R.tidy('s.raw_account_id')}")
        self.con.execute("""CREATE OR REPLACE TABLE payments AS
                            SELECT aid, instrument_id, instrument_type, bin, ts FROM staged_payments WHERE NOT bad""")
        self.account(source, "payments")
        self.con.execute("DROP TABLE staged_payments")

    def intel(self, source: Source | None) -> None:
        if source is None:
            self.con.execute("CREATE OR REPLACE TABLE intel (operator VARCHAR, kind VARCHAR, value VARCHAR, note VARCHAR)")
            return
        normal = (f"trim({self.cap('operator')}) AS operator, lower(trim({self.cap('kind')})) AS kind, "
                  f"trim({self.cap('value')}) AS value, nullif(trim({self.cap('note')}), '') AS note")
        kinds = ", ".join(INTEL_KINDS)
        checks = [*self.sized(source),
                  R.Check("operator", R.blank("raw_operator"), R.text("missing operator"), None),
                  R.Check("kind", f"{R.blank('raw_kind')} OR lower(trim(raw_kind)) NOT IN {strings(INTEL_KINDS)}",
                          f"CASE WHEN {R.blank('raw_kind')} THEN 'missing kind' ELSE {R.text('kind must be one of ' + kinds)} END",
                          R.shown("raw_kind")),
                  R.Check("value", f"{R.blank('raw_value')} OR {R.has_card('raw_value')}",
                          f"CASE WHEN {R.blank('raw_value')} THEN 'missing value' "
                          f"ELSE 'value looks like a payment card number' END", R.card_only("raw_value"))]
        self.stage(source, "intel", "NULL AS _unused", normal, checks)
        self.con.execute("""CREATE OR REPLACE TABLE intel AS
                            SELECT operator, kind, value, note FROM staged_intel WHERE NOT bad""")
        self.account(source, "intel")
        self.con.execute("DROP TABLE staged_intel")

