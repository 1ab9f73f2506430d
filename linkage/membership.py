"""Which members of a flagged community are flagged with it: each must carry the ring's evidence itself.

A community is scored as a whole, and Leiden also places in it accounts that
touch it by a single thread: a household whose residential address a proxy
pool also exits through, a developer who once pasted the operator's template.
Such an account shares one thing with the ring and nothing else, which is
what any bystander of a shared address looks like. An operator's account uses
the ring's tools: several of its addresses, cards or devices, or one of them
and the operation's templates, or one of them and a card of the batch the ring
pays from (``operations.card_batches``).

So a member stays in a flagged ring only when it uses at least
``ScoringParams.member_min_tools`` of the operation's linking entities
(entities that carry weight and that another member of one of the operation's
flagged rings uses too; template families count once, however many phrases of
the template it sends), each shared with a member outside its own verified
org: what colleagues share is their org's declared business. The operation's,
not only the community's: a thin operation spreads one proxy pool over all its
rings, so an account's few exits are shared with accounts of other rings.
A template phrase is the ring's only while most of its
users (``min_exclusivity`` of the family) sit in the ring's operation: a
common way of asking for code that one account in forty of the batch uses is
how people write, and a bystander who writes that way and shares one address
with the ring is still a bystander. The others are not flagged; they are listed as the ring's
``bystanders`` in ``rings.json``. A ring left with fewer than two flagged
members is no ring.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pandas as pd

from . import scoring
from .config import Config
from .sql import among, literal


def _per_family(templates: list[str], col: str, value: Callable[[str], float], default: float) -> str:
    """A SQL ``CASE`` on ``col`` giving each template family its own threshold, ``default`` for the rest."""
    if not templates:
        return repr(default)
    whens = " ".join(f"WHEN {literal(f)} THEN {value(f)!r}" for f in templates)
    return f"CASE {col} {whens} ELSE {default!r} END"


def member_tools(con: duckdb.DuckDBPyConnection, config: Config, cids: list[int]) -> pd.DataFrame:
    """``(cid, aid, tools)`` for every member of the given communities (0 when it uses none)."""
    roles = scoring.Roles.of(config)
    templates = roles.templates

    def is_template(col: str = "family") -> str:
        return among(templates, col)
    threshold = _per_family(templates, "family", lambda f: int(config.families[f].min_shared), 1)
    exclusivity = _per_family(templates, "s.family", lambda f: float(config.families[f].min_exclusivity), 0)
    return con.execute(f"""
        WITH chosen AS (SELECT m.cid, o.op, m.aid, coalesce(a.org_id, '') AS org_id
                        FROM members m JOIN accounts a USING (aid) JOIN operations o USING (cid)
                        WHERE m.cid IN (SELECT unnest(?))),
        -- the members' incidences, read once for the two uses below (DuckDB materialises a CTE read twice)
        uses AS (
            SELECT c.cid, c.op, c.aid, c.org_id, i.family, i.entity FROM chosen c JOIN incidence i USING (aid)),
        -- every use by a member of an entity that can tie members, and per operation the entities two use
        here AS (SELECT u.cid, u.op, u.aid, u.org_id, u.family, u.entity, e.accounts
                 FROM uses u JOIN entities e USING (family, entity)
                 WHERE {scoring.linkable_sql(roles, i="u")}),
        shared_here AS (SELECT op, family, entity, any_value(accounts) AS accounts, count(DISTINCT org_id) AS orgs
                        FROM here GROUP BY op, family, entity HAVING count(*) >= 2),
        -- a template phrase is the ring's tool only while its users are mostly the operation's own
        op_users AS (
            SELECT o.op, i.family, i.entity, count(*) AS n
            FROM incidence i SEMI JOIN (SELECT DISTINCT family, entity FROM shared_here WHERE {is_template()}) t
                 ON t.family = i.family AND t.entity = i.entity
            JOIN members m USING (aid) JOIN operations o USING (cid)
            WHERE o.op IN (SELECT op FROM chosen)
            GROUP BY ALL
        ),
        linking AS (
            SELECT s.op, s.family, s.entity, s.orgs FROM shared_here s
            LEFT JOIN op_users u ON u.op = s.op AND u.family = s.family AND u.entity = s.entity
            WHERE NOT {is_template('s.family')} OR coalesce(u.n, 0) >= {exclusivity} * s.accounts
        ),
        -- an entity counts for a member when another member outside its verified org uses it too: with no
        -- org, any other user; in an org, a user of another org or of none (two org values among its users)
        shared AS (SELECT h.cid, h.aid, h.family, h.entity FROM here h JOIN linking l USING (op, family, entity)
                   WHERE h.org_id = '' OR l.orgs >= 2),
        used AS (SELECT cid, aid, family, count(*) AS n FROM shared GROUP BY ALL),
        tools AS (
            SELECT cid, aid,
                   sum(CASE WHEN {is_template()} THEN 0 ELSE n END)
                   + max(CASE WHEN {is_template()} AND n >= {threshold} THEN 1 ELSE 0 END) AS tools
            FROM used GROUP BY cid, aid
        ),
        -- a card of the batch the community pays from is one more tool (an org's card programme is not)
        batch_held AS (
            SELECT u.cid, u.aid, count(DISTINCT b.family) AS n
            FROM uses u JOIN card_batches b ON b.cid = u.cid AND b.family = u.family AND b.entity = u.entity
            WHERE b.passes AND u.org_id = '' GROUP BY u.cid, u.aid
        )
        SELECT c.cid, c.aid, (coalesce(t.tools, 0) + coalesce(h.n, 0))::INTEGER AS tools
        FROM chosen c LEFT JOIN tools t USING (cid, aid) LEFT JOIN batch_held h USING (cid, aid)
        ORDER BY c.cid, c.aid""", [cids]).df()


def recruits(con: duckdb.DuckDBPyConnection, config: Config, flagged: pd.DataFrame) -> pd.DataFrame:
    """``(cid, aid, account_id)``: accounts outside the flagged rings that pass the member test against an operation.

    Leiden places an account by its links, and a quiet operator's account may have almost none: one
    exit it shares with one other account weighs too little to pull it into the ring, so it sits
    alone or with strangers. Membership is a matter of tools, not of placement: an account that
    holds a card of the batch the operation pays from *and* uses another of its tools carries the
    two tools a member must (``ScoringParams.member_min_tools``). That other tool is the operation's
    infrastructure (an address, card or mail domain that carries weight and that one of its members
    uses) or its templates, counted as for members: ``min_shared`` phrases of a template family, each
    sent mostly by the operation's members (``recruit_exclusivity``, half its users, or the family's
    ``min_exclusivity`` if that is more; held-out world H2 recruited a regular account at 0.3, by phrases
    a third of whose users were the operation's). Templates do not stand in for the card
    (a way of asking for code is not a purse), and a sign-up minute is a moment, not a tool (at seed
    scale, 113 prepaid-card users who signed up in an operation's minutes).

    Each tool alone is how ordinary people look (a virtual-card BIN also serves ordinary customers;
    a residential exit of a proxy pool is somebody's home lease), and in a large batch both together
    happen by chance too. So an operation recruits only when chance explains few of its candidates:
    the share of accounts *without* the batch's card that share its tools as much, times the card's
    holders, is the number of coincidences to expect; it must be at most
    ``ScoringParams.recruit_chance`` of the holders that do share. Accounts of a verified org are
    left out, as for members (an org's card programme is its own). A recruit joins the operation's
    ring whose members share the most with it (then the lowest community). ``flagged`` is
    ``(cid, aid)`` of the flagged rings' members.

    An operation that buys its cards anywhere has no batch, and its accounts' two tools are its exits
    and its templates (a thin operation spreads one proxy pool and three templates over 1,500
    accounts). That is the third route, tested the same way with the template's senders in place
    of the card's holders: accounts that send no template share its exits at some rate, and that
    rate times the senders must be at most ``recruit_chance`` of the senders that share them.

    The routes, the card with infrastructure, the card with templates, and exits with templates,
    are tested for chance apart: they are different coincidences (at seed scale, accounts without
    the card send an operation's phrases far more often than they use its exits, and a test pooled
    over the first two recruited nobody).

    A recruit is a member: the exits it uses are the operation's too. So recruiting repeats, with the
    recruits among the members, until a round finds nobody (at most ``ScoringParams.recruit_rounds``):
    a mimicry operation's accounts pair off on proxy exits no flagged member happened to use, and
    the second of a pair is found through the first. Later rounds follow exits and cards only: the
    operation's templates are what its flagged members send, already put to every account in the first
    round.
    """
    found = [_no_recruits()]
    members = flagged[["cid", "aid"]].astype({"cid": "int64", "aid": "int64"})
    for k in range(int(config.scoring.recruit_rounds)):
        more = _recruit_round(con, config, members, templates=k == 0)
        if more.empty:
            break
        found.append(more)
        members = pd.concat([members, more[["cid", "aid"]]], ignore_index=True)
    out = pd.concat(found, ignore_index=True).sort_values(["cid", "aid"], kind="stable").reset_index(drop=True)
    return out.astype({"cid": "int64", "aid": "int64"})


def _no_recruits() -> pd.DataFrame:
    return pd.DataFrame({"cid": pd.Series(dtype="int64"), "aid": pd.Series(dtype="int64"),
                         "account_id": pd.Series(dtype="object")})


#: The routes to recruiting: (the accounts holding the route's first tool, the accounts sharing its second).
ROUTES = {"infra": ("holders", "sharing_infra"), "template": ("holders", "sharing_template"),
          "exits": ("senders", "sharing_infra")}


def _credible(route: str, config: Config) -> str:
    """CTEs ``shared_<route>`` and ``credible_<route>``: the operations whose candidates on ``route`` chance
    would not explain (see ``recruits``), and ``passing_<route>(aid, op)``, those candidates."""
    holders, sharing = ROUTES[route]
    return f"""
            shared_{route} AS (SELECT s.op, count(h.aid) AS holders_sharing, count(*) - count(h.aid) AS others_sharing
                               FROM {sharing} s LEFT JOIN {holders} h USING (aid, op) GROUP BY s.op),
            held_{route} AS (SELECT op, count(*) AS n FROM {holders} GROUP BY op),
            credible_{route} AS (
                SELECT s.op FROM shared_{route} s JOIN held_{route} held USING (op)
                WHERE s.holders_sharing > 0
                  AND held.n * s.others_sharing
                      <= {float(config.scoring.recruit_chance)!r} * s.holders_sharing
                         * greatest((SELECT count(*) FROM outside) - held.n, 1)),
            passing_{route} AS (SELECT s.aid, s.op FROM {sharing} s SEMI JOIN {holders} h ON h.aid = s.aid AND h.op = s.op
                                WHERE s.op IN (SELECT op FROM credible_{route})),"""


def _template_routes(config: Config, templates: list[str], need: int) -> str:
    """CTEs of the template route: the operation's phrases, and the accounts outside sending enough of them.

    ``phrase_uses`` is per operation, not per ring: a phrase its rings all send would otherwise count
    once per ring for every account that sends it (13M rows at seed scale, where 13k will do).
    """
    least = float(config.scoring.recruit_exclusivity)
    exclusivity = _per_family(templates, "c.family",
                              lambda f: max(float(config.families[f].min_exclusivity), least), 1)
    min_shared = _per_family(templates, "family", lambda f: int(config.families[f].min_shared), 1)
    return f"""
            -- template phrases mostly the operation's own members send, and who outside sends enough of them
            -- (an incidence row is one account's use of one entity, and a member is in one ring: no duplicates)
            member_phrases AS (SELECT f.op, f.cid, f.aid, i.family, i.entity FROM fm f JOIN incidence i USING (aid)
                               WHERE {among(templates, 'i.family')}),
            op_phrases AS (SELECT c.op, c.family, c.entity
                           FROM (SELECT op, family, entity, count(*) AS n FROM member_phrases GROUP BY ALL) c
                           JOIN entities e USING (family, entity)
                           WHERE e.accounts >= 2 AND c.n >= {exclusivity} * e.accounts),
            ring_phrases AS (SELECT DISTINCT m.op, m.cid, m.family, m.entity FROM member_phrases m
                             SEMI JOIN op_phrases o ON o.op = m.op AND o.family = m.family AND o.entity = m.entity),
            phrase_uses AS (SELECT DISTINCT i.aid, p.op, p.family, p.entity
                            FROM incidence i JOIN op_phrases p USING (family, entity)
                            WHERE i.aid IN (SELECT aid FROM outside)),
            phrase_units AS (SELECT aid, op, family FROM phrase_uses
                             GROUP BY aid, op, family HAVING count(*) >= {min_shared}),
            senders AS (SELECT DISTINCT aid, op FROM phrase_units),
            -- the template route: accounts sending the operation's templates, with enough tools in all
            sharing_template AS (
                SELECT u.aid, u.op FROM (SELECT DISTINCT aid, op, family || chr(31) || entity AS unit FROM ties
                                         UNION ALL SELECT aid, op, family AS unit FROM phrase_units) u
                SEMI JOIN phrase_units p ON p.aid = u.aid AND p.op = u.op
                GROUP BY u.aid, u.op HAVING count(*) >= {need}),"""


_PHRASE_RING_TIES = """
            UNION ALL
            SELECT u.aid, u.op, m.cid, u.family, u.entity
            FROM phrase_uses u SEMI JOIN passing s ON s.aid = u.aid AND s.op = u.op
            SEMI JOIN phrase_units pu ON pu.aid = u.aid AND pu.op = u.op AND pu.family = u.family
            JOIN ring_phrases m ON m.op = u.op AND m.family = u.family AND m.entity = u.entity"""


def _recruit_round(con: duckdb.DuckDBPyConnection, config: Config, flagged: pd.DataFrame, *, templates: bool
                   ) -> pd.DataFrame:
    """One round of ``recruits``: the accounts outside ``flagged`` that pass against its operations.

    ``templates``: the template route is open too (the first round).
    """
    roles = scoring.Roles.of(config)
    # what the operation owns: addresses, cards, mail domains (a sign-up minute is a moment, not a tool)
    linking = [f for f in roles.infrastructure if f in roles.weighted and f not in roles.batches]
    if not linking or flagged.empty:
        return _no_recruits()
    need = int(config.scoring.member_min_tools) - 1  # the card, or the template, is one tool
    routes, template_ctes, phrase_ring_ties = ["infra"], "", ""
    if templates and roles.templates:
        routes, template_ctes, phrase_ring_ties = (["infra", "template", "exits"],
                                                   _template_routes(config, roles.templates, need), _PHRASE_RING_TIES)
    passing = " UNION ".join(f"SELECT aid, op FROM passing_{r}" for r in routes)
    # without the exits route, an operation with no card batch has no holders: its ties would go unused
    only_purse = "" if "exits" in routes else " AND f.op IN (SELECT op FROM purse)"
    con.register("flagged_members_df", flagged[["cid", "aid"]])
    try:
        found = con.execute(f"""
            WITH fm AS (SELECT f.cid, f.aid, o.op FROM flagged_members_df f JOIN operations o USING (cid)),
            purse AS (SELECT DISTINCT o.op, b.family, b.entity FROM card_batches b JOIN operations o USING (cid)
                      WHERE b.passes AND b.cid IN (SELECT cid FROM fm)),
            outside AS (SELECT aid FROM accounts WHERE coalesce(org_id, '') = '' AND aid NOT IN (SELECT aid FROM fm)),
            holders AS (SELECT DISTINCT i.aid, p.op FROM incidence i JOIN purse p USING (family, entity)
                        WHERE i.aid IN (SELECT aid FROM outside)),
            -- the linking entities the operation's members use, by ring, and who outside uses them
            member_ents AS (SELECT DISTINCT f.op, f.cid, i.family, i.entity
                            FROM fm f JOIN incidence i USING (aid) JOIN entities e USING (family, entity)
                            WHERE e.pair_weight > 0 AND {among(linking, 'i.family')}{only_purse}),
            ties AS (SELECT DISTINCT i.aid, m.op, m.cid, m.family, m.entity
                     FROM incidence i JOIN member_ents m USING (family, entity) WHERE i.aid IN (SELECT aid FROM outside)),
            sharing_infra AS (SELECT aid, op FROM (SELECT DISTINCT aid, op, family, entity FROM ties)
                              GROUP BY aid, op HAVING count(*) >= {need}),{template_ctes}
            -- per operation and route: holders of its card that share its tools, against everybody else outside
            {"".join(_credible(r, config) for r in routes)}
            passing AS ({passing}),
            -- a recruit joins the operation's ring whose members share the most with it
            ring_ties AS (SELECT t.aid, t.op, t.cid, t.family, t.entity FROM ties t
                          SEMI JOIN passing s ON s.aid = t.aid AND s.op = t.op{phrase_ring_ties}),
            per_ring AS (SELECT aid, op, cid, count(*) AS n FROM ring_ties GROUP BY aid, op, cid),
            best AS (SELECT aid, cid, row_number() OVER (PARTITION BY aid ORDER BY n DESC, cid) AS rank FROM per_ring)
            SELECT b.cid, b.aid, a.account_id FROM best b JOIN accounts a USING (aid) WHERE b.rank = 1
            ORDER BY b.cid, b.aid""").df()
    finally:
        con.unregister("flagged_members_df")
    return found.astype({"cid": "int64", "aid": "int64"})
