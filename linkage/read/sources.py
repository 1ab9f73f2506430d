"""One input file as a relation of its contract columns: ``__line``, ``__error`` and ``raw_<column>``.

Each file type is projected to the contract before anything else touches it, so an extra
column can never meet an internal name, and no input name or key ever reaches SQL:
CSV headers and JSON keys are matched in Python and the values travel through Arrow
(CSV, JSON lines) or by position-independent quoted name (Parquet, via ``sql.ident``).
``records`` is how many records the file holds, counted independently of what is kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from ..sql import ident, literal
from . import records as rec
from .contract import CONTRACT, SUFFIXES, UNUSED, match_columns, normalise, size_text


def find_table(folder: Path, stem: str) -> Path | None:
    """The one file of table ``stem`` in ``folder``; a name that is there but unreadable is an error."""
    found = []
    for suffix in SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if not os.path.lexists(path):
            continue
        if path.is_symlink() and not path.exists():
            raise InputError(f"{path.name}: a symbolic link to {os.readlink(path)!r}, which does not exist")
        if not path.is_file():
            raise InputError(f"{path.name}: not a regular file")
        if not os.access(path, os.R_OK):
            raise InputError(f"{path.name}: cannot be read (permission denied)")
        found.append(path)
    if len(found) > 1:
        raise InputError(f"{folder}: more than one file for table {stem!r}: {', '.join(p.name for p in found)}")
    return found[0] if found else None


def duckdb_problem(exc: duckdb.Error) -> str:
    """DuckDB's message in a user's words: its first line, without the error class prefix."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    for prefix in ("Invalid Input Error: ", "IO Error: ", "Conversion Error: ", "Binder Error: ",
                   "Parser Error: ", "Invalid Error: "):
        first = first.removeprefix(prefix)
    return first


@dataclass
class Source:
    """A file of one table; ``relation(con)`` is a fresh scan of it each time it is called."""

    table: str
    path: Path
    #: contract column -> its DuckDB type in the relation (VARCHAR except typed Parquet columns)
    types: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    def relation(self, con: duckdb.DuckDBPyConnection) -> str:
        raise NotImplementedError

    def records(self, con: duckdb.DuckDBPyConnection) -> int:
        raise NotImplementedError

    def finish(self) -> None:
        """Raise what went wrong in the last scan (read errors surface here, named)."""

    def close(self, con: duckdb.DuckDBPyConnection) -> None:
        """Release what the scans registered."""


def open_source(table: str, path: Path, *, max_record_bytes: int) -> Source:
    if path.name.endswith(".parquet"):
        return ParquetSource(table, path)
    if path.name.endswith(".jsonl"):
        return JsonLinesSource(table, path, max_record_bytes=max_record_bytes)
    return CsvSource(table, path, max_record_bytes=max_record_bytes)


# --- text files ----------------------------------------------------------------------------------


class _TextSource(Source):
    """CSV or JSON lines: records come from ``records.scan`` as Arrow batches registered in DuckDB."""

    csv = True

    def __init__(self, table: str, path: Path, *, max_record_bytes: int):
        super().__init__(table, path)
        self.max_record_bytes = max_record_bytes
        self.count = 0
        self.failure: Exception | None = None
        self.view = f"__scan_{table}"

    def schema(self) -> pa.Schema:
        raise NotImplementedError

    def batch(self, block: rec.Block) -> pa.RecordBatch | None:
        raise NotImplementedError

    def select(self) -> str:
        raise NotImplementedError

    def _blocks(self) -> Iterator[rec.Block]:
        return rec.scan(self.path, self.name, csv=self.csv, max_record_bytes=self.max_record_bytes)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        """Arrow batches of the whole file, in order; a failure is kept for :meth:`finish`.

        Blocks are split here, one after the other (a record's end depends on the quotes
        before it), and turned into Arrow by two worker threads (numpy releases the GIL).
        """
        self.count, self.failure = 0, None
        try:
            with ThreadPoolExecutor(2) as pool:
                pending: deque[Future[pa.RecordBatch | None]] = deque()
                for block in self._blocks():
                    pending.append(pool.submit(self._convert, block))
                    while len(pending) > 2:
                        yield from self._counted(pending.popleft().result())
                while pending:
                    yield from self._counted(pending.popleft().result())
        except Exception as exc:  # surfaced by finish(): DuckDB would bury it in its own message
            self.failure = exc

    def _convert(self, block: rec.Block) -> pa.RecordBatch | None:
        return self._refused(*block.refused) if block.refused is not None else self.batch(block)

    def _counted(self, batch: pa.RecordBatch | None) -> Iterator[pa.RecordBatch]:
        if batch is not None and batch.num_rows:
            self.count += batch.num_rows
            yield batch

    def _refused(self, line: int, reason: str) -> pa.RecordBatch:
        schema = self.schema()
        cols = [pa.array([line], pa.int64()), pa.array([reason], pa.string())]
        cols += [pa.nulls(1, f.type) for f in list(schema)[2:]]
        return pa.record_batch(cols, schema=schema)

    def register(self, con: duckdb.DuckDBPyConnection) -> str:
        """A fresh scan of the file, registered as an Arrow stream; returns its name in SQL."""
        con.register(self.view, pa.RecordBatchReader.from_batches(self.schema(), self._batches()))
        return ident(self.view)

    def relation(self, con: duckdb.DuckDBPyConnection) -> str:
        self.register(con)
        return f"({self.select()})"

    def records(self, con: duckdb.DuckDBPyConnection) -> int:
        return self.count

    def finish(self) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            if isinstance(failure, InputError):
                raise failure
            raise InputError(f"{self.name}: cannot read the file ({failure})") from failure

    def close(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            con.unregister(self.view)
        except duckdb.Error:
            pass

    def _utf8(self, block: rec.Block, starts: rec.Ints, ends: rec.Ints) -> rec.Mask:
        """Mask of records that are not UTF-8; a block that is ASCII or valid as a whole costs one check."""
        consumed = block.split.consumed
        head = block.buf if consumed == len(block.buf) else block.buf[:consumed]
        if head.isascii() or rec.utf8_ok(head):
            return np.zeros(len(starts), bool)
        return rec.invalid_utf8(block.buf, starts, ends)


class CsvSource(_TextSource):
    """A CSV file (``.csv`` or ``.csv.gz``): RFC 4180, comma-separated, header on line 1."""

    def __init__(self, table: str, path: Path, *, max_record_bytes: int):
        super().__init__(table, path, max_record_bytes=max_record_bytes)
        self.header = self._header()
        self.positions = {c: i for c, i in match_columns(table, self.name, self.header).items() if c not in UNUSED}
        self.types = {c: "VARCHAR" for c in self.positions}

    def _header(self) -> list[str]:
        for block in self._blocks():
            if block.refused is not None:
                raise InputError(f"{self.name}: the header is longer than {size_text(self.max_record_bytes)}")
            sp = block.split.take(np.arange(1))
            if sp.ends[0] == sp.starts[0]:
                raise InputError(f"{self.name}: line 1 is empty; the first line must be the header")
            a = np.frombuffer(block.buf, np.uint8)
            width = int(sp.fields[0])
            names = []
            for k in range(width):
                start, end, _ = rec.unquote(a, sp, *rec.field_bounds(sp, width, k))
                try:
                    names.append(block.buf[int(start[0]):int(end[0])].decode("utf-8").replace('""', '"'))
                except UnicodeDecodeError:
                    raise InputError(f"{self.name}: the header is not UTF-8 text") from None
            return names
        raise InputError(f"{self.name}: empty file; the first line must be the header")

    def schema(self) -> pa.Schema:
        fields = [pa.field("__line", pa.int64()), pa.field("__error", pa.string())]
        return pa.schema(fields + [pa.field(c, pa.string_view()) for c in self.positions])

    def batch(self, block: rec.Block) -> pa.RecordBatch | None:
        keep = block.split.ends > block.split.starts  # empty lines are not records
        if block.first_line == 1 and len(keep):
            keep[0] = False  # the header
        sp, buf = block.split.take(keep), block.buf
        a = np.frombuffer(buf, np.uint8)
        width = len(self.header)
        why = rec.Reasons(len(sp))
        if sp.unterminated and len(sp):
            why.add(np.arange(len(sp)) == len(sp) - 1, "unterminated quoted field (from this line to the end of the file)")
        why.add((sp.ends - sp.starts) > self.max_record_bytes, rec.too_long(self.max_record_bytes))
        for count in np.unique(sp.fields[sp.fields != width]):
            why.add(sp.fields == count, f"{count} field{'s' if count != 1 else ''} where the header has {width}")
        why.add(self._utf8(block, sp.starts, sp.ends), "not valid UTF-8 text")
        bounds = {}
        for col, k in self.positions.items():
            start, end, malformed = rec.unquote(a, sp, *rec.field_bounds(sp, width, k))
            why.add(malformed, f"malformed quotes in {col}")
            bounds[col] = (start, end)
        words = rec.padded(buf)
        cols = [pa.array(block.lines[keep], pa.int64()), why.array()]
        cols += [rec.string_views(words, buf, start, end, why.ok) for start, end in bounds.values()]
        return pa.record_batch(cols, schema=self.schema())

    def select(self) -> str:
        cols = ", ".join(f"CASE WHEN contains({ident(c)}, '\"\"') THEN replace({ident(c)}, '\"\"', '\"') "
                         f"ELSE {ident(c)} END AS {ident('raw_' + c)}" for c in self.positions)
        return f"SELECT __line, CAST(__error AS VARCHAR) AS __error{', ' + cols if cols else ''} FROM {ident(self.view)}"


class JsonLinesSource(_TextSource):
    """A JSON-lines file: one JSON object per line; keys matched to the contract case-insensitively."""

    csv = False

    def __init__(self, table: str, path: Path, *, max_record_bytes: int):
        super().__init__(table, path, max_record_bytes=max_record_bytes)
        self.keys: dict[str, list[str]] = {}

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field("__line", pa.int64()), pa.field("__error", pa.string()),
                          pa.field("__text", pa.string_view())])

    def batch(self, block: rec.Block) -> pa.RecordBatch | None:
        keep = block.split.ends > block.split.starts  # empty lines are not records
        sp, buf = block.split.take(keep), block.buf
        why = rec.Reasons(len(sp))
        why.add((sp.ends - sp.starts) > self.max_record_bytes, rec.too_long(self.max_record_bytes))
        why.add(self._utf8(block, sp.starts, sp.ends), "not valid UTF-8 text")
        words = rec.padded(buf)
        return pa.record_batch([pa.array(block.lines[keep], pa.int64()), why.array(),
                                rec.string_views(words, buf, sp.starts, sp.ends, why.ok)], schema=self.schema())

    _PARSED = ("CASE WHEN __error IS NULL THEN coalesce(try(json_type(__text)), 'INVALID') END")

    def discover(self, con: duckdb.DuckDBPyConnection) -> None:
        """Find which keys carry contract columns (one scan); the same column under two keys in a line stops the run."""
        wanted = [c for group in CONTRACT[self.table] for c in group if c not in UNUSED]
        names = "[" + ", ".join(literal(c) for c in wanted) + "]"
        rel = f"(SELECT __line, CAST(__error AS VARCHAR) AS __error, __text FROM {self.register(con)})"
        try:
            rows = con.execute(
                f"""SELECT list(DISTINCT k) FILTER (WHERE k IS NOT NULL), min(__line) FILTER (WHERE dup),
                           any_value(keys) FILTER (WHERE dup)
                    FROM (SELECT __line, keys, len(keys) > len(list_distinct(list_transform(keys,
                                 lambda x: lower(trim(x))))) AS dup, unnest(keys) AS k
                          FROM (SELECT __line, list_filter(json_keys(__text), lambda x: list_contains({names},
                                       lower(trim(x)))) AS keys
                                FROM {rel} s WHERE {self._PARSED} = 'OBJECT'))""").fetchall()
        except duckdb.Error as exc:
            self.finish()
            raise InputError(f"{self.name}: cannot read the file ({duckdb_problem(exc)})") from None
        self.finish()
        keys, dup_line, dup_keys = rows[0] if rows else (None, None, None)
        if dup_line is not None:
            groups: dict[str, list[str]] = {}
            for key in dup_keys:
                groups.setdefault(normalise(key), []).append(repr(key))
            twice = "; ".join(f"{c} ({', '.join(ks)})" for c, ks in groups.items() if len(ks) > 1)
            raise InputError(f"{self.name}: line {dup_line} gives a column more than once: {twice}")
        for key in sorted(keys or []):
            self.keys.setdefault(normalise(key), []).append(key)
        required = CONTRACT[self.table][0]
        missing = [c for c in required if c not in self.keys]
        if missing and self.count:
            plural = "columns" if len(missing) > 1 else "column"
            raise InputError(f"{self.name}: missing required {plural} {', '.join(missing)} (no line has "
                             f"{'them' if len(missing) > 1 else 'it'})")
        self.types = {c: "VARCHAR" for c in wanted if c in self.keys or c in required}

    def select(self) -> str:
        cols = list(self.types)
        paths = [literal("/" + k.replace("~", "~0").replace("/", "~1")) for c in cols for k in self.keys.get(c, [])]
        if paths:
            values = f"CASE WHEN parsed = 'OBJECT' THEN json_extract_string(__text, [{', '.join(paths)}]) END"
        else:
            values = "CAST(NULL AS VARCHAR[])"
        exprs, i = [], 1
        for c in cols:
            n = len(self.keys.get(c, []))
            parts = [f"v[{j}]" for j in range(i, i + n)]
            exprs.append(f"{'coalesce(' + ', '.join(parts) + ')' if parts else 'CAST(NULL AS VARCHAR)'} AS "
                         f"{ident('raw_' + c)}")
            i += n
        error = ("coalesce(__error, CASE parsed WHEN 'INVALID' THEN 'not valid JSON' WHEN 'OBJECT' THEN NULL "
                 "ELSE 'not a JSON object' END)")
        return (f"SELECT __line, {error} AS __error{', ' + ', '.join(exprs) if exprs else ''} FROM ("
                f"SELECT __line, __error, parsed, {values} AS v FROM ("
                f"SELECT __line, CAST(__error AS VARCHAR) AS __error, __text, {self._PARSED} AS parsed "
                f"FROM {ident(self.view)}))")


# --- Parquet -------------------------------------------------------------------------------------


class ParquetSource(Source):
    """A Parquet file, read by DuckDB; typed time and AS-number columns are kept typed.

    DuckDB treats a path as a glob pattern, so a folder named ``data[1]`` or ``*`` could
    make it read other files: it reads through a symlink of a fixed name in a private
    temporary folder instead.
    """

    def __init__(self, table: str, path: Path):
        super().__init__(table, path)
        self._tmp = Path(tempfile.mkdtemp(prefix="linkage-read-"))
        self.link = self._tmp / f"{table}.parquet"
        os.symlink(path.resolve(), self.link)
        self.names: dict[str, str] = {}
        self.stored: dict[str, str] = {}

    def describe(self, con: duckdb.DuckDBPyConnection) -> None:
        """Match the file's columns; names as stored (DuckDB renames case duplicates, which would hide them)."""
        try:
            stored = pq.read_schema(self.link).names
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({literal(self.link)})").fetchall()
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            problem = duckdb_problem(exc) if isinstance(exc, duckdb.Error) else str(exc)
            raise InputError(f"{self.name}: not a readable Parquet file "
                             f"({problem.replace(str(self.link), self.name)})") from None
        positions = {c: i for c, i in match_columns(self.table, self.name, stored).items() if c not in UNUSED}
        names = [r[0] for r in described]
        self.names = {c: names[i] for c, i in positions.items()}
        self.stored = {c: str(described[i][1]).upper() for c, i in positions.items()}
        self.types = {c: t if c in self.TYPED and t not in ("VARCHAR", "BLOB") else "VARCHAR"
                      for c, t in self.stored.items()}

    #: Columns whose Parquet type is used as it is (timestamps, epoch integers, AS numbers).
    TYPED = ("ts", "created_at", "asn")

    def _column(self, col: str) -> str:
        src = ident(self.names[col])
        if self.stored[col] == "BLOB":  # bytes: text only when they are UTF-8
            return f"try(decode({src}))"
        return src if self.types[col] != "VARCHAR" or self.stored[col] == "VARCHAR" else f"CAST({src} AS VARCHAR)"

    def relation(self, con: duckdb.DuckDBPyConnection) -> str:
        cols = ", ".join(f"{self._column(c)} AS {ident('raw_' + c)}" for c in self.types)
        blobs = [f"CASE WHEN {ident(self.names[c])} IS NOT NULL AND try(decode({ident(self.names[c])})) IS NULL "
                 f"THEN {literal(c + ' is not valid UTF-8 text')} END" for c, t in self.stored.items() if t == "BLOB"]
        error = f"coalesce({', '.join(blobs)})" if blobs else "CAST(NULL AS VARCHAR)"
        return (f"(SELECT CAST(file_row_number + 1 AS BIGINT) AS __line, {error} AS __error"
                f"{', ' + cols if cols else ''} FROM read_parquet({literal(self.link)}, file_row_number = true))")

    def records(self, con: duckdb.DuckDBPyConnection) -> int:
        return int(con.execute(f"SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata({literal(self.link)})"
                               ).fetchall()[0][0])

    def close(self, con: duckdb.DuckDBPyConnection) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
