"""Signal extraction: every family turns the batch into account→entity evidence.

Each family module contributes one SQL query yielding
``(aid, entity, requests, first, last)``; this module runs them all into one
``incidence`` table and scores each entity's rarity in ``entities``. The whole
stage is relational (group, count, join) so that it can move to a distributed
SQL engine unchanged.
"""

from __future__ import annotations

import logging

from ..config import Config
from . import asn, device, email, ip, payment, prompt, signup

log = logging.getLogger(__name__)

MODULES = (payment, ip, asn, device, prompt, email, signup)
FAMILY_MODULES = {m.FAMILY: m for m in MODULES}


def _family_params(con, config: Config) -> None:
    rows = [(name, p.weight, p.cap, p.decay, p.min_shared, p.combine) for name, p in config.families.items()]
    con.execute("CREATE OR REPLACE TEMP TABLE family_params "
                "(family VARCHAR, weight DOUBLE, cap INTEGER, decay DOUBLE, min_shared INTEGER, combine VARCHAR)")
    con.executemany("INSERT INTO family_params VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.execute("CREATE OR REPLACE TEMP TABLE free_mail_domains (domain VARCHAR)")
    con.executemany("INSERT INTO free_mail_domains VALUES (?)", [(d,) for d in sorted(config.free_mail_domains)])


def extract(con, config: Config, progress=None) -> dict[str, int]:
    """Fill ``incidence`` from the batch and weigh every entity; return incidences per family.

    ``progress`` is called with each step's name (a family, then ``weigh``) as it starts.
    """
    prepare(con, config)
    counts = {}
    for module in MODULES:
        if module.FAMILY in config.families:
            if progress:
                progress(module.FAMILY)
            counts[module.FAMILY] = add_family(con, config, module)
    if progress:
        progress("weigh")
    weigh_entities(con)
    return counts


def prepare(con, config: Config) -> None:
    """Parameter tables and an empty ``incidence`` table."""
    _family_params(con, config)
    con.execute(
        "CREATE OR REPLACE TABLE incidence (aid INTEGER, family VARCHAR, entity VARCHAR, "
        "requests BIGINT, first TIMESTAMPTZ, last TIMESTAMPTZ)"
    )


def add_family(con, config: Config, module) -> int:
    """Run one family's query into ``incidence``; return how many incidences it added."""
    stage = getattr(module, "prepare", None)  # a family may stage a table its query reads
    if stage:
        stage(con, config)
    con.execute(
        f"INSERT INTO incidence SELECT aid, '{module.FAMILY}', entity, requests, first, last "
        f"FROM ({module.sql(config)})"
    )
    n = con.execute("SELECT count(*) FROM incidence WHERE family = ?", [module.FAMILY]).fetchall()[0][0]
    log.info("signal %s: %d incidences", module.FAMILY, n)
    return n


def weigh_entities(con) -> None:
    """``entities.pair_weight``: what one shared entity adds to a pair.

    It falls as ``weight / (n - 1) ** decay`` with the ``n`` accounts sharing it,
    and is zero for hubs (``n > cap``) and for entities only one account has.
    """
    con.execute(
        """CREATE OR REPLACE TABLE entities AS
           SELECT i.family, i.entity, count(*) AS accounts, sum(i.requests) AS requests,
                  min(i.first) AS first, max(i.last) AS last,
                  count(*) > any_value(p.cap) AS hub,
                  CASE WHEN count(*) >= 2 AND count(*) <= any_value(p.cap)
                       THEN any_value(p.weight) / pow(count(*) - 1, any_value(p.decay)) ELSE 0 END AS pair_weight
           FROM incidence i JOIN family_params p USING (family)
           GROUP BY i.family, i.entity"""
    )


__all__ = ["extract", "prepare", "add_family", "weigh_entities", "MODULES", "FAMILY_MODULES"]
