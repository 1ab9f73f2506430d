"""One reader of a run's output folder, used by load, bulk import, explain, the report and intel export.

A ``linkage detect`` run leaves ``OUT/rings.json`` (rings, parameters, input
counts), ``OUT/ring_members.csv`` and ``OUT/evidence/*.parquet``. :class:`RunFolder`
checks the folder once, gives the rings as typed :class:`~linkage.results.Ring`,
the run's own :class:`~linkage.config.Config` (so a later step never silently
uses today's defaults instead), and a DuckDB connection with one view per
evidence table.

Before any of that, it checks the folder against the run's manifest ``OUT/run.json``
(``linkage.manifest``): a file changed, missing or added since the run is one clear
error naming it. ``verification(False)`` (the CLI's ``--no-verify``) skips the check.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb

from . import manifest
from .config import Config
from .errors import ConfigError, InputError
from .results import Operation, Ring
from .safetext import csv_plain_sql
from .sql import ident, literal

#: Evidence tables every run writes (older runs may lack the optional ones).
EVIDENCE = ("accounts", "incidence", "entities", "links", "ip_asn", "intel", "windows", "shingle_texts",
            "instruments", "indicator_hits")
OPTIONAL = ("daily", "prompt_topics")

#: Whether RunFolder checks a folder against its manifest when not told (``--no-verify`` turns it off).
_VERIFY: ContextVar[bool] = ContextVar("linkage_verify_runs", default=True)


@contextlib.contextmanager
def verification(enabled: bool) -> Iterator[None]:
    """Check run folders against their manifests (the default) or not, for the code run inside."""
    token = _VERIFY.set(enabled)
    try:
        yield
    finally:
        _VERIFY.reset(token)


class RunFolder:
    """A detect run's output folder. Raises InputError when ``out`` is not one, or no longer holds its run.

    ``verify`` (default: on unless inside ``verification(False)``) checks every file against
    ``run.json`` except those in ``skip`` (``linkage report`` rebuilds report.html).
    """

    def __init__(self, out: str | Path, *, need: tuple[str, ...] = (), verify: bool | None = None,
                 skip: tuple[str, ...] = ()):
        self.path = Path(out)
        if not self.path.is_dir():
            raise InputError(f"{self.path}: no such output folder (run `linkage detect DATA --out {self.path}` first)")
        self.evidence_dir = self.path / "evidence"
        if not (self.path / "rings.json").is_file() and not (self.path / manifest.MANIFEST).is_file():
            raise InputError(f"{self.path}: not the output folder of a linkage detect run (no rings.json)")
        check = _VERIFY.get() if verify is None else verify
        self.manifest = manifest.verify(self.path, skip=skip) if check else None
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
            con.execute(f"CREATE VIEW ring_members AS SELECT {csv_plain_sql('ring_id')} AS ring_id, "
                        f"{csv_plain_sql('account_id')} AS account_id FROM "
                        f"read_csv({literal(members)}, all_varchar = true, header = true)")
        return con


__all__ = ["RunFolder", "EVIDENCE", "OPTIONAL", "verification"]
