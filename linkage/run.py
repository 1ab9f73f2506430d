"""One reader of a run's output folder, used by load, bulk import, explain, the report and intel export.

A ``linkage detect`` run leaves ``OUT/rings.json`` (rings, parameters, input
counts), ``OUT/ring_members.csv`` and ``OUT/evidence/*.parquet``. :class:`RunFolder`
checks the folder once, gives the rings as typed :class:`~linkage.results.Ring`,
the run's own :class:`~linkage.config.Config` (so a later step never silently
uses today's defaults instead), and a DuckDB connection with one view per
evidence table.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb

from .config import Config
from .errors import ConfigError, InputError
from .results import Operation, Ring
from .sql import ident, literal

#: Evidence tables every run writes (older runs may lack the optional ones).
EVIDENCE = ("accounts", "incidence", "entities", "links", "ip_asn", "intel", "windows", "shingle_texts",
            "instruments", "indicator_hits")
OPTIONAL = ("daily", "prompt_topics")


class RunFolder:
    """A detect run's output folder. Raises InputError when ``out`` is not one."""

    def __init__(self, out: str | Path, *, need: tuple[str, ...] = ()):
        self.path = Path(out)
        if not self.path.is_dir():
            raise InputError(f"{self.path}: no such output folder (run `linkage detect DATA --out {self.path}` first)")
        self.evidence_dir = self.path / "evidence"
        missing = [t for t in need if not self.has(t)]
        if not (self.path / "rings.json").is_file():
            missing.insert(0, "rings.json")
        if missing:
            raise InputError(f"{self.path}: not the output folder of a linkage detect run "
                             f"(missing {', '.join(m if m == 'rings.json' else f'evidence/{m}.parquet' for m in missing)})")

    def has(self, table: str) -> bool:
        return (self.evidence_dir / f"{table}.parquet").is_file()

    @cached_property
    def doc(self) -> dict[str, Any]:
        path = self.path / "rings.json"
        try:
            doc = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read it ({exc})") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("rings"), list):
            raise InputError(f"{path}: not a linkage rings.json (no rings list)")
        return doc

    @cached_property
    def rings(self) -> list[Ring]:
        try:
            return [Ring.from_dict(r) for r in self.doc["rings"]]
        except TypeError as exc:
            raise InputError(f"{self.path / 'rings.json'}: a ring is malformed ({exc})") from None

    @cached_property
    def operations(self) -> list[Operation]:
        """The run's operations (``linkage.operations``); empty for a run older than operations."""
        try:
            return [Operation.from_dict(o) for o in self.doc.get("operations") or []]
        except TypeError as exc:
            raise InputError(f"{self.path / 'rings.json'}: an operation is malformed ({exc})") from None

    @cached_property
    def config(self) -> Config:
        """The parameters the run recorded (defaults for what an older run did not record)."""
        try:
            return Config.from_dict(self.doc.get("params") or {})
        except (TypeError, ValueError, ConfigError) as exc:
            raise InputError(f"{self.path / 'rings.json'}: its params cannot be read back ({exc})") from None

    @property
    def batch_id(self) -> str:
        return str(self.doc.get("input", {}).get("batch_id") or f"run-{self.doc.get('generated_at', '')}")

    def connect(self, tables: tuple[str, ...] | None = None) -> duckdb.DuckDBPyConnection:
        """A fresh DuckDB connection with a view per evidence table present (or per table of ``tables``)."""
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for t in tables or (*EVIDENCE, *OPTIONAL):
            if self.has(t):
                path = self.evidence_dir / f"{t}.parquet"
                con.execute(f"CREATE VIEW {ident(t)} AS SELECT * FROM read_parquet({literal(path)})")
        members = self.path / "ring_members.csv"
        if members.is_file():
            con.execute(f"CREATE VIEW ring_members AS SELECT ring_id, account_id FROM "
                        f"read_csv({literal(members)}, all_varchar = true, header = true)")
        return con


__all__ = ["RunFolder", "EVIDENCE", "OPTIONAL"]
