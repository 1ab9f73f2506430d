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

import duckdb
import numpy as np
import pandas as pd

from .. import families
from ..errors import LinkageError
from ..signals.prompt import template_key

MAX_MEMBERS = 60  # members drawn in a ring's network picture
PER_FAMILY = 3  # shared entities drawn per signal family
MAX_ENTITIES = 16


@dataclass
class RingFigures:
    """What one ring's section draws, beyond its rings.json entry."""

    ring: dict
    members: list[str] = field(default_factory=list)  # drawn members, a subset of ring["members"]
    entities: list[dict] = field(default_factory=list)  # family, entity, label, members, accounts
    edges: list[tuple[int, int]] = field(default_factory=list)  # (member index, entity index)
    signups: pd.Series | None = None  # sign-ups per UTC day
    requests: pd.Series | None = None  # requests per UTC day (None when the run kept no daily table)
    topics: dict[str, int] | None = None  # prompts per topic (None when not kept)


@dataclass
class ReportData:
    out: Path
    doc: dict
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


def _read_rings(path: Path) -> dict:
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


def _fill(figures: list[RingFigures], tables: dict[str, Path], doc: dict) -> None:
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
        figures[ring].signups = pd.Series(g["n"].to_numpy(), index=pd.to_datetime(g["day"]))
    if "daily" in tables:
        daily = con.execute(
            f"""SELECT r.ring, d.day, sum(d.requests) AS n FROM read_parquet('{_q(tables["daily"])}') d
                JOIN rm r USING (aid) GROUP BY ALL ORDER BY ALL""").df()
        by_ring = {k: g for k, g in daily.groupby("ring")}
        for i, f in enumerate(figures):
            g = by_ring.get(i)
            f.requests = pd.Series(dtype="int64") if g is None else pd.Series(
                g["n"].to_numpy(), index=pd.to_datetime(g["day"]))
    if "prompt_topics" in tables:
        topics = con.execute(
            f"""SELECT r.ring, t.topic, sum(t.prompts) AS n FROM read_parquet('{_q(tables["prompt_topics"])}') t
                JOIN rm r USING (aid) GROUP BY ALL""").df()
        for f in figures:
            f.topics = {}
        for row in topics.itertuples(index=False):
            figures[row.ring].topics[row.topic] = int(row.n)
    if "incidence" in tables and "entities" in tables:
        _network(con, figures, tables, doc)


def _network(con, figures: list[RingFigures], tables: dict[str, Path], doc: dict) -> None:
    """Pick each ring's most shared (non-hub) entities and the members drawn with them, all in SQL.

    Entities: the ``PER_FAMILY`` most shared of each family, at most ``MAX_ENTITIES`` in all.
    Members: the ``MAX_MEMBERS`` touching most of those entities (then by id).
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
           SELECT i.ring, i.account_id, t.idx FROM ring_inc i JOIN net_ent t USING (ring, family, entity)""")
    con.execute(
        f"""CREATE TABLE net_member AS
            SELECT * FROM (
                SELECT ring, account_id,
                       CAST(row_number() OVER (PARTITION BY ring ORDER BY deg DESC, account_id) - 1 AS INTEGER) AS pos
                FROM (SELECT r.ring, r.account_id, count(e.idx) AS deg
                      FROM rm_names r LEFT JOIN net_edge e USING (ring, account_id) GROUP BY ALL)
            ) WHERE pos < {MAX_MEMBERS}""")
    ents = con.execute("SELECT ring, family, entity, members, accounts FROM net_ent ORDER BY ring, idx").fetchnumpy()
    mems = con.execute("SELECT ring, account_id FROM net_member ORDER BY ring, pos").fetchnumpy()
    edges = con.execute(
        "SELECT e.ring, m.pos, e.idx FROM net_edge e JOIN net_member m USING (ring, account_id) ORDER BY ALL"
    ).fetchnumpy()
    labels = _prompt_labels(con, tables, doc)

    def by_ring(cols: dict) -> dict[int, slice]:
        rings = np.asarray(cols["ring"])
        if not len(rings):
            return {}
        cuts = np.flatnonzero(np.diff(rings)) + 1
        starts, stops = np.r_[0, cuts], np.r_[cuts, len(rings)]
        return {int(rings[a]): slice(int(a), int(b)) for a, b in zip(starts, stops)}

    ent_at, mem_at, edge_at = by_ring(ents), by_ring(mems), by_ring(edges)
    fam, ent, n_mem, n_acc = (list(ents[c]) for c in ("family", "entity", "members", "accounts"))
    ids, pos, idx = list(mems["account_id"]), list(edges["pos"]), list(edges["idx"])
    for i, f in enumerate(figures):
        if i not in ent_at:
            continue
        sl = ent_at[i]
        f.entities = [{"family": fam[k], "entity": ent[k], "members": int(n_mem[k]), "accounts": int(n_acc[k]),
                       "label": labels.get(ent[k], ent[k]) if _is_template(fam[k]) else ent[k]}
                      for k in range(sl.start, sl.stop)]
        f.members = ids[mem_at[i]] if i in mem_at else []
        f.edges = [(int(pos[k]), int(idx[k])) for k in range(edge_at[i].start, edge_at[i].stop)] if i in edge_at else []


def _prompt_labels(con, tables: dict[str, Path], doc: dict) -> dict[str, str]:
    """Readable text of template shingles: the run's shingle_texts table, else rings.json's top texts re-hashed."""
    if "shingle_texts" in tables:
        try:
            return dict(con.execute(
                f"SELECT entity, text FROM read_parquet('{_q(tables['shingle_texts'])}')").fetchall())
        except duckdb.Error:
            pass
    def tops(ring: dict) -> list:
        prompt = (ring.get("signals") if isinstance(ring.get("signals"), dict) else {}).get("prompt")
        top = prompt.get("top") if isinstance(prompt, dict) else None
        return top if isinstance(top, list) else []

    texts = sorted({str(t["entity"]) for r in doc["rings"] for t in tops(r) if isinstance(t, dict) and "entity" in t})
    if not texts:
        return {}
    # The prompt signal keys a shingle by the stable digest of its text (linkage/signals/prompt.py).
    return dict(con.execute(f"SELECT {template_key('t')}, t FROM (SELECT unnest(?) AS t)", [texts]).fetchall())


def _is_template(family: str) -> bool:
    try:
        return families.get(family).template
    except KeyError:
        return False
