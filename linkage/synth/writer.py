"""Table files in any of the contract's formats, written a chunk at a time.

One writer per table keeps memory bounded for the 50-million-row events file:
Parquet row groups or CSV blocks are appended as they are produced. Output is
byte-for-byte deterministic (gzip level 6 with mtime 0), so the same seed gives
the same files.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import ConfigError

FORMATS = ("csv", "csv.gz", "parquet")


class TableWriter:
    """Append Arrow tables of one schema to ``<dir>/<stem>.<fmt>``."""

    def __init__(self, out_dir: Path, stem: str, fmt: str, schema: pa.Schema):
        if fmt not in FORMATS:
            raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.path = Path(out_dir) / f"{stem}.{fmt}"
        self.schema = schema
        self.rows = 0
        if fmt == "parquet":
            self._sink = None
            self._writer = pq.ParquetWriter(self.path, schema, compression="zstd")
        else:
            self._file = open(self.path, "wb")
            self._sink = (gzip.GzipFile(filename="", mode="wb", fileobj=self._file, compresslevel=6, mtime=0)
                          if fmt == "csv.gz" else self._file)
            self._writer = pacsv.CSVWriter(self._sink, schema)

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        if self._sink is not None:
            self._sink.close()
            self._file.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_table(out_dir: Path, stem: str, fmt: str, table: pa.Table) -> Path:
    with TableWriter(out_dir, stem, fmt, table.schema) as w:
        w.write(table)
    return w.path
