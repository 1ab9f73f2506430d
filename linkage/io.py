"""Read and validate one input batch (data contract v1) into DuckDB.

Everything is columnar: each file is scanned once by DuckDB, each rule is a SQL
expression, and a row that breaks a rule goes to the ``rejected`` table with its
file, line and reason instead of vanishing. A missing table or required column
stops the run with one line naming both.

``line`` counts records with the header as line 1, so the first data row is
line 2 (for ``.jsonl`` and ``.parquet`` the first record is line 1); a quoted
prompt spanning several physical lines is one record.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .errors import ConfigError, InputError

SUFFIXES = (".parquet", ".csv.gz", ".csv", ".jsonl")

#: table -> (required columns, optional columns)
CONTRACT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "accounts": (("account_id", "created_at"), ("email", "org_id", "country")),
    "events": (("account_id", "ts"), ("ip", "asn", "device_id", "user_agent", "prompt")),
    "payments": (("account_id", "instrument_id"), ("instrument_type", "bin", "ts")),
    "intel": (("operator", "kind", "value"), ("note",)),
}
OPTIONAL_TABLES = frozenset({"intel"})
INTEL_KINDS = ("account", "ip", "asn", "device", "instrument", "email_domain", "prompt")

_IPV4 = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
# Hex groups with at most one '::', optional embedded IPv4 tail; length checked separately.
_H = "[0-9a-f]{1,4}"
_V4 = "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# IPv6: full, '::'-compressed (at most 7 groups besides the gap), and both again with an IPv4 tail.
_IPV6_FULL = f"^({_H}:){{7}}{_H}$"
_IPV6_GAP = f"^({_H}(:{_H}){{0,6}})?::({_H}(:{_H}){{0,6}})?$"
_IPV6_FULL4 = f"^({_H}:){{6}}{_V4}$"
_IPV6_GAP4 = f"^({_H}(:{_H}){{0,4}})?::({_H}:){{0,4}}{_V4}$"
_CARD_NUMBER = r"^[0-9][0-9 -]{11,22}[0-9]$"


def _blank(col: str) -> str:
    return f"({col} IS NULL OR trim({col}) = '')"


def _ts(col: str) -> str:
    """ISO 8601 (Z, offset, or naive = UTC) or integer epoch seconds -> TIMESTAMPTZ, NULL when unparseable.

    Digits alone never cast as a timestamp, so the epoch rule only runs on what the cast
    left NULL (COALESCE evaluates lazily): the common ISO case costs one cast.
    """
    t = f"trim({col})"
    return (f"coalesce(TRY_CAST({t} AS TIMESTAMPTZ), CASE WHEN regexp_full_match({t}, '-?[0-9]{{1,12}}') "
            f"THEN to_timestamp(CAST({t} AS BIGINT)) END)")


def _asn(col: str) -> str:
    return f"TRY_CAST(regexp_replace(trim({col}), '^(?i)as', '') AS UBIGINT)"


def _ip_ok(col: str, normalised: bool = False) -> str:
    """IPv4 or IPv6 text; a CASE so the IPv6 patterns only run on what is not IPv4 (OR is not lazy)."""
    c = col if normalised else f"lower(trim({col}))"
    groups = f"len(regexp_extract_all({c}, '[0-9a-f]+'))"
    head_groups = f"len(regexp_extract_all(regexp_replace({c}, '[0-9.]+$', ''), '[0-9a-f]+'))"
    return (f"CASE WHEN regexp_full_match({c}, '{_IPV4}') THEN true ELSE (length({c}) <= 45 AND ("
            f"regexp_full_match({c}, '{_IPV6_FULL}') OR regexp_full_match({c}, '{_IPV6_FULL4}')"
            f" OR (regexp_full_match({c}, '{_IPV6_GAP}') AND {groups} <= 7)"
            f" OR (regexp_full_match({c}, '{_IPV6_GAP4}') AND {head_groups} <= 5))) END")


@dataclass(frozen=True)
class Rule:
    """A row-level check: ``bad`` is a SQL predicate over the raw (VARCHAR) columns."""

    bad: str
    reason: str
    column: str


def _rules(table: str, present: set[str]) -> list[Rule]:
    """The checks for one table, in the order a reader would want them reported."""
    rules: list[Rule] = []
    for col in CONTRACT[table][0]:
        rules.append(Rule(_blank(col), f"missing {col}", col))
    if table == "accounts":
        rules.append(Rule(f"{_ts('created_at')} IS NULL", "unparseable created_at", "created_at"))
        if "email" in present:
            rules.append(
                Rule(f"NOT {_blank('email')} AND NOT regexp_full_match(trim(email), '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')",
                     "malformed email", "email")
            )
    elif table == "payments":
        rules.append(
            Rule(f"regexp_full_match(trim(instrument_id), '{_CARD_NUMBER}')",
                 "instrument_id looks like a raw card number; payments must carry tokens", "instrument_id")
        )
        if "ts" in present:
            rules.append(Rule(f"NOT {_blank('ts')} AND {_ts('ts')} IS NULL", "unparseable ts", "ts"))
    elif table == "intel":
        kinds = ", ".join(f"'{k}'" for k in INTEL_KINDS)
        rules.append(Rule(f"lower(trim(kind)) NOT IN ({kinds})", f"kind must be one of {', '.join(INTEL_KINDS)}", "kind"))
    return rules


#: Columns whose raw value may be shown in rejected.csv (never payment tokens or prompts).
_SHOWABLE = {"account_id", "created_at", "ts", "ip", "asn", "email", "kind", "operator", "device_id"}


def find_table(folder: Path, stem: str) -> Path | None:
    found = [folder / f"{stem}{suffix}" for suffix in SUFFIXES if (folder / f"{stem}{suffix}").is_file()]
    if len(found) > 1:
        raise InputError(f"{folder}: more than one file for table {stem!r}: {', '.join(p.name for p in found)}")
    return found[0] if found else None


# DuckDB does not short-circuit AND, so json_type must only see valid JSON.
_IS_OBJECT = "coalesce(CASE WHEN json_valid(text) THEN json_type(text) = 'OBJECT' END, false)"


def _scan(path: Path, table: str, con) -> str:
    """A relation over the file's rows, as VARCHAR columns plus ``line``; records malformed lines.

    CSV lines with too few or too many fields and JSONL lines that are not a
    JSON object go to ``rejected`` instead of stopping the run.
    """
    p = str(path).replace("'", "''")
    if path.name.endswith(".parquet"):
        return f"(SELECT *, file_row_number + 1 AS line FROM read_parquet('{p}', file_row_number = true))"
    if path.name.endswith(".jsonl"):
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE lines_{table} AS
                SELECT CAST(row_number() OVER () AS BIGINT) AS line, text FROM read_csv('{p}',
                    columns = {{'text': 'VARCHAR'}}, header = false, delim = '\x1f', quote = '', escape = '',
                    auto_detect = false, strict_mode = false)"""
        )
        con.execute(
            f"""INSERT INTO rejected SELECT '{path.name.replace("'", "''")}', line, NULL,
                'not a JSON object', NULL FROM lines_{table}
                WHERE trim(text) <> '' AND NOT {_IS_OBJECT}"""
        )
        keys = [r[0] for r in con.execute(
            f"SELECT DISTINCT unnest(json_keys(text)) FROM lines_{table} "
            f"WHERE {_IS_OBJECT} ORDER BY 1").fetchall()]
        cols = ", ".join(f"json_extract_string(text, '$.\"{k}\"') AS \"{k}\"" for k in keys if '"' not in k)
        return (f"(SELECT {cols + ', ' if cols else ''}line FROM lines_{table} "
                f"WHERE {_IS_OBJECT})")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE csv_{table} AS SELECT *, CAST(row_number() OVER () AS BIGINT) AS rn
            FROM read_csv('{p}', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"',
                          store_rejects = true, rejects_table = 'rej_{table}', rejects_scan = 'rejscan_{table}')"""
    )
    con.execute(  # one row per line: DuckDB records a line once per offending field
        f"""CREATE OR REPLACE TEMP TABLE badlines_{table} AS
            SELECT line, arg_min(lower(error_type) || ' (' || error_message || ')', column_idx) AS reason
            FROM rej_{table} GROUP BY line"""
    )
    con.execute(
        f"""INSERT INTO rejected SELECT '{path.name.replace("'", "''")}', line, NULL, reason, NULL
            FROM badlines_{table}"""
    )
    # Rows after a malformed line are shifted by it: map each good row's rank back to its line.
    return f"""(SELECT c.* EXCLUDE (rn), c.rn + 1 + coalesce(g.k, 0) AS line FROM csv_{table} c
               ASOF LEFT JOIN (SELECT before, max(k) AS k FROM (
                                   SELECT line - 1 - row_number() OVER (ORDER BY line) AS before,
                                          row_number() OVER (ORDER BY line) AS k FROM badlines_{table})
                               GROUP BY before) g
               ON c.rn > g.before)"""


@dataclass
class Batch:
    """A validated batch held in one DuckDB connection.

    Tables: ``accounts(aid, account_id, created_at, email_domain, org_id, country)``,
    ``events(aid, ts, ip, asn, device_id, user_agent, prompt)``,
    ``payments(aid, instrument_id, instrument_type, bin, ts)``,
    ``intel(operator, kind, value, note)`` and ``rejected(file, line, column, reason, value)``.
    ``aid`` is a dense integer id, the rank of ``account_id``: the same input gives the same ids.
    """

    con: duckdb.DuckDBPyConnection
    folder: Path
    files: dict[str, str] = field(default_factory=dict)
    #: Content digest of the input files: the same batch loaded twice is recognised as such.
    batch_id: str = ""

    def count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]

    def counts(self) -> dict[str, int]:
        return {t: self.count(t) for t in ("accounts", "events", "payments", "intel", "rejected")}


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


def _open(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> tuple[str, dict[str, str], dict[str, str]]:
    """The file's scan, its contract columns (lower-cased name -> name in the file) and their types."""
    try:
        scan = _scan(path, table, con)
        described = [r for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall() if r[0] != "line"]
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path.name}: cannot read the file ({first})") from None
    lowered = {r[0].lower(): r[0] for r in described}
    required, optional = CONTRACT[table]
    missing = [c for c in required if c not in lowered]
    if missing:
        plural = "columns" if len(missing) > 1 else "column"
        raise InputError(f"{path.name}: missing required {plural} {', '.join(missing)}")
    types = {r[0].lower(): str(r[1]).upper() for r in described}
    return scan, lowered, types


def _stage_raw(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> set[str]:
    """Scan the file into ``raw_<table>`` as VARCHAR with line and failing rule; return the columns present."""
    scan, lowered, _ = _open(con, table, path)
    required, optional = CONTRACT[table]
    present = {c for c in (*required, *optional) if c in lowered}
    select = ", ".join(
        f'CAST("{lowered[c]}" AS VARCHAR) AS {c}' if c in present else f"CAST(NULL AS VARCHAR) AS {c}"
        for c in (*required, *optional)
    )
    rules = _rules(table, present)
    reason = "CASE " + " ".join(f"WHEN {r.bad} THEN '{r.reason}'" for r in rules) + " END"
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE raw_{table} AS SELECT *, {reason} AS reason FROM ("
            f"SELECT {select}, CAST(line AS BIGINT) AS line FROM {scan})"
        )
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path.name}: cannot read the file ({first})") from None
    for temp in (f"csv_{table}", f"lines_{table}", f"badlines_{table}"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return present


def _reject(con: duckdb.DuckDBPyConnection, table: str, fname: str, present: set[str]) -> None:
    """Copy every row of ``raw_<table>`` that failed a rule into ``rejected``, naming the column."""
    rules = _rules(table, present)
    column = "CASE " + " ".join(f"WHEN {r.bad} THEN '{r.column}'" for r in rules) + " END"
    shown = "CASE " + " ".join(
        f"WHEN {r.bad} THEN {'left(' + r.column + ', 80)' if r.column in _SHOWABLE else 'NULL'}" for r in rules
    ) + " END"
    con.execute(
        f"INSERT INTO rejected SELECT ?, line, {column}, reason, {shown} FROM raw_{table} WHERE reason IS NOT NULL",
        [fname],
    )


def read_batch(folder: str | Path, con: duckdb.DuckDBPyConnection | None = None, extra_intel=None) -> Batch:
    """Read, validate and index one batch folder; raise InputError on contract breaks.

    ``extra_intel`` (a :class:`linkage.stix.intake.StixIntel`) names STIX bundles to read as more intel.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    con = con or connect()
    con.execute("CREATE OR REPLACE TEMP TABLE rejected (file VARCHAR, line BIGINT, \"column\" VARCHAR, reason VARCHAR, value VARCHAR)")
    batch = Batch(con=con, folder=folder)
    present: dict[str, set[str]] = {}
    for table in CONTRACT:
        path = find_table(folder, table)
        if path is None:
            if table in OPTIONAL_TABLES:
                continue
            raise InputError(f"{folder}: no {table} table (expected {table}.csv, .csv.gz, .parquet or .jsonl)")
        batch.files[table] = path.name
        if table != "events":  # the big table is read in one pass once accounts exist
            present[table] = _stage_raw(con, table, path)
    for table, cols in present.items():
        _reject(con, table, batch.files[table], cols)
    _build_accounts(con, batch.files["accounts"])
    _build_events(con, folder / batch.files["events"])
    _build_payments(con, batch.files["payments"])
    _build_intel(con, "intel" in present)
    _add_stix_intel(con, batch, extra_intel)
    for table in present:
        con.execute(f"DROP TABLE raw_{table}")
    batch.batch_id = _digest(folder, batch.files)
    return batch


def _add_stix_intel(con, batch: Batch, extra_intel) -> None:
    """STIX 2.1 bundles (``--intel`` files, ``intel.stix.json`` in the folder) as more intel rows."""
    from .stix.intake import add_bundle_intel

    add_bundle_intel(con, batch, extra_intel)


def _digest(folder: Path, files: dict[str, str]) -> str:
    """sha1 over the input files' names and bytes (streamed; ~1 s per GB)."""
    h = hashlib.sha1()
    for table in sorted(files):
        h.update(files[table].encode() + b"\0")
        with open(folder / files[table], "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return "batch-" + h.hexdigest()[:16]


def _build_accounts(con, fname: str) -> None:
    con.execute(
        """INSERT INTO rejected
           SELECT ?, line, 'account_id', 'duplicate account_id (first occurrence kept)', left(trim(account_id), 80)
           FROM (SELECT line, account_id, row_number() OVER (PARTITION BY trim(account_id) ORDER BY line) AS k
                 FROM raw_accounts WHERE reason IS NULL) WHERE k > 1""",
        [fname],
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE accounts AS
            SELECT CAST(row_number() OVER (ORDER BY account_id) - 1 AS INTEGER) AS aid, *
            FROM (
              SELECT trim(account_id) AS account_id, {_ts('created_at')} AS created_at,
                     nullif(lower(split_part(trim(email), '@', 2)), '') AS email_domain,
                     nullif(trim(org_id), '') AS org_id, nullif(trim(country), '') AS country
              FROM raw_accounts WHERE reason IS NULL
              QUALIFY row_number() OVER (PARTITION BY trim(account_id) ORDER BY line) = 1
            )"""
    )


def _unknown_account(con, table: str, fname: str) -> None:
    con.execute(
        f"""INSERT INTO rejected
            SELECT ?, r.line, 'account_id', 'unknown account_id (not in accounts)', left(trim(r.account_id), 80)
            FROM raw_{table} r ANTI JOIN accounts a ON a.account_id = trim(r.account_id)
            WHERE r.reason IS NULL""",
        [fname],
    )


def _typed_ts(col: str, sql_type: str) -> str:
    """``ts`` as TIMESTAMPTZ: Parquet may already carry a timestamp or epoch seconds; text is parsed."""
    if sql_type.startswith("TIMESTAMP") or sql_type == "DATE":
        return f"CAST({col} AS TIMESTAMPTZ)"
    if sql_type in ("BIGINT", "INTEGER", "UBIGINT", "UINTEGER", "SMALLINT", "HUGEINT"):
        return f"to_timestamp(CAST({col} AS BIGINT))"
    return _ts(f"CAST({col} AS VARCHAR)")


def _typed_asn(col: str, sql_type: str) -> str:
    """``asn`` as BIGINT, NULL when it is not an AS number."""
    if sql_type in ("BIGINT", "INTEGER", "UBIGINT", "UINTEGER", "SMALLINT", "HUGEINT"):
        return f"CASE WHEN {col} BETWEEN 0 AND 4294967295 THEN CAST({col} AS BIGINT) END"
    text = f"CAST({col} AS VARCHAR)"
    return f"CASE WHEN {_asn(text)} <= 4294967295 THEN CAST({_asn(text)} AS BIGINT) END"


def _build_events(con, path: Path) -> None:
    """Scan, validate, type and key the requests in one pass: the table is tens of millions of rows.

    The other tables are staged as text and checked rule by rule; doing that here
    would hold every request twice. Instead each row is normalised once (typed
    timestamps and AS numbers pass through from Parquet unparsed) and flagged when a
    rule fails, and ``events`` is a view over the rows that passed.
    ``user_agent`` is accepted but not kept: no signal reads it.
    """
    scan, lowered, types = _open(con, "events", path)
    src = {c: f'e."{lowered[c]}"' if c in lowered else "NULL" for c in ("account_id", "ts", "ip", "asn", "device_id",
                                                                      "prompt")}
    text = {c: f"CAST({v} AS VARCHAR)" for c, v in src.items()}
    ts_type, asn_type = types.get("ts", "VARCHAR"), types.get("asn", "VARCHAR")
    # Blank tests and shown values read the source column; casts to text only where it is text already,
    # or lazily, inside a CASE branch that only rejected rows reach.
    blank = {c: _blank(f"{c}_src") if t == "VARCHAR" else f"{c}_src IS NULL"
             for c, t in (("account_id", "VARCHAR"), ("ts", ts_type), ("asn", asn_type))}
    shown = {c: f"left(CAST({c}_src AS VARCHAR), 80)" for c in ("account_id", "ts", "ip", "asn")}
    rules = [  # (failed when, reason, column, value shown): the first failing rule names the row
        (f"CASE WHEN aid IS NULL THEN {blank['account_id']} ELSE false END", "missing account_id", "account_id",
         shown["account_id"]),
        (f"CASE WHEN ts IS NULL THEN {blank['ts']} ELSE false END", "missing ts", "ts", shown["ts"]),
        ("ts IS NULL", "unparseable ts", "ts", shown["ts"]),
        (f"CASE WHEN ip IS NULL THEN false ELSE NOT {_ip_ok('ip', normalised=True)} END", "malformed ip", "ip", shown["ip"]),
        (f"CASE WHEN asn IS NULL THEN NOT {blank['asn']} ELSE false END", "asn is not an integer AS number", "asn",
         shown["asn"]),
        ("aid IS NULL", "unknown account_id (not in accounts)", "account_id", "left(account_id, 80)"),
    ]
    reason = "CASE " + " ".join(f"WHEN {bad} THEN '{why}'" for bad, why, _, _ in rules) + " END"
    column = "CASE reason " + " ".join(f"WHEN '{why}' THEN '{col}'" for _, why, col, _ in rules) + " END"
    value = "CASE reason " + " ".join(f"WHEN '{why}' THEN {val}" for _, why, _, val in rules) + " END"
    checked = f"""
        SELECT line, aid, ts, ip, asn, device_id, prompt, reason,
               CASE WHEN reason IS NOT NULL THEN {column} END AS "column",
               CASE WHEN reason IS NOT NULL THEN {value} END AS value
        FROM (
            SELECT *, {reason} AS reason FROM (
                SELECT CAST(e.line AS BIGINT) AS line, a.aid, trim({text['account_id']}) AS account_id,
                       {_typed_ts(src['ts'], ts_type)} AS ts, nullif(lower(trim({text['ip']})), '') AS ip,
                       {_typed_asn(src['asn'], asn_type) if 'asn' in lowered else 'CAST(NULL AS BIGINT)'} AS asn,
                       nullif(trim({text['device_id']}), '') AS device_id,
                       nullif({text['prompt']}, '') AS prompt,
                       {src['account_id']} AS account_id_src, {src['ts']} AS ts_src,
                       {src['ip']} AS ip_src, {src['asn']} AS asn_src
                FROM {scan} e LEFT JOIN accounts a ON a.account_id = trim({text['account_id']})
            )
        )"""
    try:
        # Kept rows carry one flag, not the line, column and value of a rejection (those would cost
        # more memory than the requests themselves); rejected rows are described by a second pass,
        # made only when there are any.
        con.execute(f"""CREATE OR REPLACE TABLE events_checked AS
                        SELECT aid, ts, ip, asn, device_id, prompt, reason IS NOT NULL AS rejected FROM ({checked})""")
        if con.execute("SELECT count(*) FROM events_checked WHERE rejected").fetchall()[0][0]:
            con.execute(f"""INSERT INTO rejected SELECT ?, line, "column", reason, value FROM ({checked})
                            WHERE reason IS NOT NULL ORDER BY line""", [path.name])
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path.name}: cannot read the file ({first})") from None
    con.execute(
        """CREATE OR REPLACE VIEW events AS
           SELECT aid, ts, ip, asn, device_id, prompt FROM events_checked WHERE NOT rejected"""
    )
    for temp in ("csv_events", "lines_events", "badlines_events"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")


def _build_payments(con, fname: str) -> None:
    _unknown_account(con, "payments", fname)
    con.execute(
        f"""CREATE OR REPLACE TABLE payments AS
            SELECT a.aid, trim(p.instrument_id) AS instrument_id,
                   nullif(lower(trim(p.instrument_type)), '') AS instrument_type,
                   nullif(trim(p.bin), '') AS bin, {_ts('p.ts')} AS ts
            FROM raw_payments p JOIN accounts a ON a.account_id = trim(p.account_id)
            WHERE p.reason IS NULL"""
    )


def _build_intel(con, present: bool) -> None:
    if not present:
        con.execute("CREATE OR REPLACE TABLE intel (operator VARCHAR, kind VARCHAR, value VARCHAR, note VARCHAR)")
        return
    con.execute(
        """CREATE OR REPLACE TABLE intel AS
           SELECT trim(operator) AS operator, lower(trim(kind)) AS kind, trim(value) AS value, nullif(trim(note), '') AS note
           FROM raw_intel WHERE reason IS NULL"""
    )
