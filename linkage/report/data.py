"""Read what ``linkage detect`` left in OUT into the figures the report draws; no HTML here.

Everything per ring is computed in a few DuckDB queries over the evidence
Parquet files, restricted to flagged members, so a large run costs one scan of
each file. Tables that an older run did not write (``daily``,
``prompt_topics``, ``shingle_texts``) are optional: their panels say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import duckdb
import pandas as pd

from .. import families
from ..errors import LinkageError
from ..frames import rows
from ..signals.prompt import template_key

PER_FAMILY = 3  # shared entities drawn per signal family
MAX_ENTITIES = 16
SAMPLE_IDS = 3  # member ids a group's tooltip names


@dataclass(frozen=True)
class MemberGroup:
    """The members of a ring that use exactly the same subset of the entities drawn (their *pattern*)."""

    entities: tuple[int, ...]  # indices into RingFigures.entities, ascending; () = none of them
    size: int
    sample: tuple[str, ...] = ()  # the first few member ids, for the tooltip


@dataclass
class RingFigures:
    """What one ring's section draws, beyond its rings.json entry."""

    ring: dict[str, Any]
    entities: list[dict[str, Any]] = field(default_factory=list)  # family, entity, label, members, accounts
    groups: list[MemberGroup] = field(default_factory=list)  # every member, grouped by pattern; largest first
    signups: pd.Series[int] | None = None  # sign-ups per UTC day
    requests: pd.Series[int] | None = None  # requests per UTC day (None when the run kept no daily table)
    topics: dict[str, int] | None = None  # prompts per topic (None when not kept)


@dataclass
class ReportData:
    out: Path
    doc: dict[str, Any]
    rejected_rows: int | None
    rings: list[RingFigures]
    missing: list[str]  # evidence tables the run did not write


def load(out_dir: str | Path) -> ReportData:
    """Read ``OUT`` (a ``linkage detect`` output folder); a missing or broken one is a LinkageError."""
    out = Path(out_dir)
    if not out.is_dir():
        raise LinkageError(f"{out}: no such output folder (run `linkage detect DATA --out {out}` first)")
    doc = _read_rings(out / "rings.json")
    ev = out / "evidence"
    tables = {p.stem: p for p in ev.glob("*.parquet")} if ev.is_dir() else {}
    wanted = ("accounts", "incidence", "entities", "daily", "prompt_topics")
    missing = [t for t in wanted if t not in tables]
    figures = [RingFigures(ring=r) for r in doc["rings"]]
    if figures:
        try:
            _fill(figures, tables, doc)
        except duckdb.Error as exc:
            raise LinkageError(f"{ev}: cannot read the evidence tables ({str(exc).splitlines()[0]})") from None
    return ReportData(out=out, doc=doc, rejected_rows=_count_rejected(out / "rejected.csv"), rings=figures,
                      missing=missing)


def _read_rings(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise LinkageError(f"{path}: missing (not a `linkage detect` output folder)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LinkageError(f"{path}: not valid rings.json ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rings"), list):
        raise LinkageError(f"{path}: not valid rings.json (no list of rings)")
    need = ("ring_id", "score", "size", "members")
    for i, ring in enumerate(doc["rings"]):
        if not isinstance(ring, dict) or any(k not in ring for k in need) or not isinstance(ring["members"], list):
            raise LinkageError(f"{path}: ring {i} lacks one of {', '.join(need)}")
    return doc


def _count_rejected(path: Path) -> int | None:
    if not path.is_file():
        return None
    try:  # a CSV reader, not a line count: a quoted value may hold a newline
        return int(duckdb.connect().execute(
            f"SELECT count(*) FROM read_csv('{_q(path)}', header = true, all_varchar = true)").fetchall()[0][0])
    except duckdb.Error:
        return max(0, sum(1 for _ in path.open("rb")) - 1)


def _q(path: Path) -> str:
    return str(path).replace("'", "''")


def _fill(figures: list[RingFigures], tables: dict[str, Path], doc: dict[str, Any]) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rm = pd.DataFrame([(i, str(m)) for i, f in enumerate(figures) for m in f.ring["members"]],
                      columns=["ring", "account_id"])
    con.register("rm_names", rm)
    if "accounts" not in tables:
        return
    con.execute(f"""CREATE TABLE rm AS SELECT r.ring, r.account_id, a.aid, a.created_at
                    FROM rm_names r JOIN read_parquet('{_q(tables["accounts"])}') a USING (account_id)""")
    signups = con.execute(
        "SELECT ring, CAST(created_at AS DATE) AS day, count(*) AS n FROM rm WHERE created_at IS NOT NULL "
        "GROUP BY ALL ORDER BY ALL").df()
    for ring, g in signups.groupby("ring"):
        figures[cast(int, ring)].signups = pd.Series(g["n"].to_numpy(), index=pd.to_datetime(g["day"]))
    if "daily" in tables:
        daily = con.execute(
            f"""SELECT r.ring, d.day, sum(d.requests) AS n FROM read_parquet('{_q(tables["daily"])}') d
                JOIN rm r USING (aid) GROUP BY ALL ORDER BY ALL""").df()
        by_ring = {k: g for k, g in daily.groupby("ring")}
        for i, f in enumerate(figures):
            days = by_ring.get(i)
            f.requests = pd.Series(dtype="int64") if days is None else pd.Series(
                days["n"].to_numpy(), index=pd.to_datetime(days["day"]))
    if "prompt_topics" in tables:
        topics = con.execute(
            f"""SELECT r.ring, t.topic, sum(t.prompts) AS n FROM read_parquet('{_q(tables["prompt_topics"])}') t
                JOIN rm r USING (aid) GROUP BY ALL""").df()
        per_ring: list[dict[str, int]] = [{} for _ in figures]
        for row in rows(topics):
            per_ring[row.ring][row.topic] = int(row.n)
        for f, counts in zip(figures, per_ring):
            f.topics = counts
    if "incidence" in tables and "entities" in tables:
        _network(con, figures, tables, doc)


def _network(con: duckdb.DuckDBPyConnection, figures: list[RingFigures], tables: dict[str, Path], doc: dict[str, Any]) -> None:
    """Pick each ring's most shared (non-hub) entities and group all its members by the ones they use, in SQL.

    Entities: the ``PER_FAMILY`` most shared of each family, at most ``MAX_ENTITIES`` in all.
    Groups: every member, keyed by the sorted list of those entities it uses (its pattern), so
    the picture can draw a 400-member ring as a few dozen weighted groups instead of a sample.
    """
    con.execute(
        f"""CREATE TABLE ring_inc AS
            SELECT r.ring, r.account_id, i.family, i.entity
            FROM read_parquet('{_q(tables["incidence"])}') i JOIN rm r USING (aid)""")
    con.execute(
        f"""CREATE TABLE net_ent AS
            SELECT ring, family, entity, members, accounts,
                   CAST(row_number() OVER (PARTITION BY ring ORDER BY members DESC, family, entity) - 1 AS INTEGER) AS idx
            FROM (
                SELECT s.ring, s.family, s.entity, s.members, e.accounts,
                       row_number() OVER (PARTITION BY s.ring, s.family ORDER BY s.members DESC, s.entity) AS k
                FROM (SELECT ring, family, entity, count(*) AS members FROM ring_inc GROUP BY ALL HAVING count(*) >= 2) s
                JOIN read_parquet('{_q(tables["entities"])}') e USING (family, entity)
                WHERE e.pair_weight > 0
            ) WHERE k <= {PER_FAMILY}
            QUALIFY idx < {MAX_ENTITIES}""")
    con.execute(
        """CREATE TABLE net_edge AS
           SELECT DISTINCT i.ring, i.account_id, t.idx FROM ring_inc i JOIN net_ent t USING (ring, family, entity)""")
    groups = con.execute(
        f"""SELECT ring, pattern, count(*) AS size, list(account_id ORDER BY account_id)[1:{SAMPLE_IDS}] AS sample
            FROM (SELECT r.ring, r.account_id,
                         coalesce(list(e.idx ORDER BY e.idx) FILTER (WHERE e.idx IS NOT NULL), []) AS pattern
                  FROM rm_names r LEFT JOIN net_edge e USING (ring, account_id) GROUP BY ALL)
            GROUP BY ring, pattern ORDER BY ring, size DESC, pattern""").fetchall()
    ents = con.execute("SELECT ring, family, entity, members, accounts FROM net_ent ORDER BY ring, idx").fetchall()
    labels = _prompt_labels(con, tables, doc)
    for ring, family, entity, members, accounts in ents:
        figures[ring].entities.append({"family": family, "entity": entity, "members": int(members),
                                       "accounts": int(accounts), "label": entity_label(family, entity, labels)})
    for ring, pattern, size, sample in groups:
        if figures[ring].entities:
            figures[ring].groups.append(MemberGroup(tuple(int(k) for k in pattern), int(size),
                                                    tuple(str(m) for m in sample)))


def entity_label(family: str, entity: str, texts: dict[str, str]) -> str:
    """Words for an entity: a template n-gram's text, a sign-up burst's minute; other entities are their value.

    A template whose text the run did not keep is named as such: its hex shingle id means nothing to a reader.
    """
    if _is_template(family):
        return texts.get(entity) or "template n-gram (text not kept)"
    if family == "signup" and len(entity) >= 16 and entity[10] == "T":
        return f"{entity[:10]} {entity[11:16]} UTC"
    return entity


def _prompt_labels(con: duckdb.DuckDBPyConnection, tables: dict[str, Path], doc: dict[str, Any]) -> dict[str, str]:
    """Readable text of template shingles: the run's shingle_texts table, else rings.json's top texts re-hashed."""
    if "shingle_texts" in tables:
        try:
            return dict(con.execute(
                f"SELECT entity, text FROM read_parquet('{_q(tables['shingle_texts'])}')").fetchall())
        except duckdb.Error:
            pass

    def tops(ring: dict[str, Any]) -> list[Any]:
        given = ring.get("signals")
        signals: dict[str, Any] = given if isinstance(given, dict) else {}
        found: list[Any] = []
        for fam in families.all_families():
            entry = signals.get(fam.name) if fam.template else None
            top = entry.get("top") if isinstance(entry, dict) else None
            found += top if isinstance(top, list) else []
        return found

    texts = sorted({str(t["entity"]) for r in doc["rings"] for t in tops(r) if isinstance(t, dict) and "entity" in t})
    if not texts:
        return {}
    # A template shingle is keyed by the stable digest of its text (linkage/signals/prompt.py).
    return dict(con.execute(f"SELECT {template_key('t')}, t FROM (SELECT unnest(?) AS t)", [texts]).fetchall())


def _is_template(family: str) -> bool:
    try:
        return families.get(family).template
    except KeyError:
        return False
