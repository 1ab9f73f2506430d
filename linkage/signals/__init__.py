"""Signal extraction: every family turns the batch into account→entity evidence.

Each family (``linkage.families``; the built-in ones are the modules of this
package) contributes one SQL query yielding ``(aid, entity, requests, first,
last)``; this module runs them all into one ``incidence`` table and scores each
entity's rarity in ``entities``. A template family's query may add ``marks``, the
sampled prompts each phrase is in (``families.marks_sql``), kept in
``template_marks``. The whole stage is relational (group, count,
join) so that it can move to a distributed SQL engine unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from duckdb import DuckDBPyConnection

from .. import families
from ..config import Config
from ..families import Family
from ..sql import literal
from ..stages import Context, Runner, Stage, Timer, tables

# The built-in families register themselves on import, in this order.
from . import asn, card_batch, device, email, fuzzy, ip, payment, prefix, prompt, signup  # noqa: E402,F401,I001  (order is registry order)

log = logging.getLogger(__name__)


def _family_params(con: DuckDBPyConnection, config: Config) -> None:
    rows = [(name, p.weight, p.cap, p.decay, p.min_shared, p.combine) for name, p in config.families.items()]
    con.execute("CREATE OR REPLACE TEMP TABLE family_params "
                "(family VARCHAR, weight DOUBLE, cap INTEGER, decay DOUBLE, min_shared INTEGER, combine VARCHAR)")
    con.executemany("INSERT INTO family_params VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.execute("CREATE OR REPLACE TEMP TABLE free_mail_domains (domain VARCHAR)")
    con.executemany("INSERT INTO free_mail_domains VALUES (?)", [(d,) for d in sorted(config.free_mail_domains)])


#: What the signal stages leave for the later ones (``analysis.INPUTS`` and the graph's parameters).
OUTPUTS = ("family_params", "free_mail_domains", "incidence", "entities", "shingle_texts", "acct_topics",
           "ip_networks", "template_marks")


def stages(config: Config) -> list[Stage]:
    """The signal stages of a run: parameters, one per family (so a slow one shows by name), weighing."""
    out = [Stage("signal.params", lambda ctx: prepare(ctx.con, ctx.config),
                 writes=("family_params", "free_mail_domains", "incidence", "shingle_texts",
                         "acct_topics", "ip_networks", "template_marks"))]
    for family in _ordered(list(families.in_run(config))):
        out.append(Stage(f"signal.{family.name}", partial(_count, family=family),
                         reads=(*family.reads, "incidence"),
                         writes=("incidence", *(("template_marks",) if family.marks else ()), *family.writes)))
    out.append(Stage("signal.weigh", lambda ctx: weigh_entities(ctx.con), reads=("incidence", "family_params"),
                     writes=("entities",)))
    return out


def _ordered(fams: list[Family]) -> list[Family]:
    """Registry order, except that a family reading a table another family writes runs after it."""
    done: list[Family] = []
    waiting = list(fams)
    while waiting:
        made = {t for f in done for t in f.writes}
        pending = {t for f in waiting for t in f.writes}
        ready = next((f for f in waiting if not (set(f.reads) & (pending - made) - set(f.writes))), waiting[0])
        done.append(ready)
        waiting.remove(ready)
    return done


def _count(ctx: Context, family: Family) -> None:
    ctx.values.setdefault("incidences", {})[family.name] = add_family(ctx.con, ctx.config, family)


def extract(con: DuckDBPyConnection, config: Config, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Fill ``incidence`` from the batch and weigh every entity; return incidences per family.

    The signal stages run as ``detect`` runs them, so a family's scratch tables (the requests'
    address uses, the sampled prompts' words, the paraphrase bands) are dropped as there, and only
    what later stages read stays (``OUTPUTS``; ``Config.keep_tables`` keeps everything), with
    every table the connection held before.
    ``progress`` is called with each step's name (a family, then ``weigh``) as it starts.
    """
    def report(stage: str, seconds: float | None) -> None:
        if progress and seconds is None and stage != "signal.params":
            progress(stage.removeprefix("signal."))

    ctx = Context(con=con, config=config)
    Runner(stages(config), keep=(*OUTPUTS, *tables(con)), timer=Timer(report)).run(ctx)
    return dict(ctx.values.get("incidences", {}))


def prepare(con: DuckDBPyConnection, config: Config) -> None:
    """Parameter tables and an empty ``incidence`` table."""
    _family_params(con, config)
    con.execute(
        "CREATE OR REPLACE TABLE incidence (aid INTEGER, family VARCHAR, entity VARCHAR, "
        "requests BIGINT, first TIMESTAMPTZ, last TIMESTAMPTZ)"
    )
    # Template texts and prompt topics exist even when no template family runs: later stages read them.
    con.execute("CREATE OR REPLACE TABLE shingle_texts (entity VARCHAR, text VARCHAR)")
    con.execute("CREATE OR REPLACE TABLE acct_topics (aid INTEGER, prompts BIGINT, focused BIGINT)")
    # Which sampled prompts each template phrase is in (template families fill it; empty from a stored graph).
    con.execute("CREATE OR REPLACE TABLE template_marks (aid INTEGER, family VARCHAR, entity VARCHAR, marks BIGINT)")
    # Addresses' networks (``signals.ip`` fills it): empty when no address family runs.
    con.execute("CREATE OR REPLACE TABLE ip_networks (entity VARCHAR, network BIGINT)")


def add_family(con: DuckDBPyConnection, config: Config, family: Family) -> int:
    """Run one family's query into ``incidence``; return how many incidences it added."""
    if family.prepare is not None:  # a family may stage a table its query reads
        family.prepare(con, config)
    source = f"({family.sql(config)})"
    if family.marks:  # one evaluation feeds the incidences and the phrases' marks
        con.execute(f"CREATE OR REPLACE TEMP TABLE family_rows AS SELECT * FROM {source}")
        con.execute(f"INSERT INTO template_marks SELECT aid, {literal(family.name)}, entity, marks FROM family_rows "
                    "WHERE marks <> 0")
        source = "family_rows"
    con.execute(f"INSERT INTO incidence SELECT aid, {literal(family.name)}, entity, requests, first, last FROM {source}")
    if family.marks:
        con.execute("DROP TABLE family_rows")
    n = con.execute("SELECT count(*) FROM incidence WHERE family = ?", [family.name]).fetchall()[0][0]
    log.info("signal %s: %d incidences", family.name, n)
    return int(n)


def weigh_entities(con: DuckDBPyConnection) -> None:
    """``entities.pair_weight``: what one shared entity adds to a pair.

    It falls as ``weight / (n - 1) ** decay`` with the ``n`` accounts sharing it,
    and is zero for hubs (``n > cap``) and for entities only one account has.
    """
    con.execute(
        """CREATE OR REPLACE TABLE entities AS
           SELECT i.family, i.entity, count(*) AS accounts, sum(i.requests) AS requests,
                  min(i.first) AS first, max(i.last) AS last,
                  count(*) > min(p.cap) AS hub,
                  CASE WHEN count(*) >= 2 AND count(*) <= min(p.cap)
                       THEN min(p.weight) / pow(count(*) - 1, min(p.decay)) ELSE 0 END AS pair_weight
           FROM incidence i JOIN family_params p USING (family)
           GROUP BY i.family, i.entity"""
    )


__all__ = ["stages", "extract", "prepare", "add_family", "weigh_entities"]
