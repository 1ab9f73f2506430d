"""Ring scoring: explainable features per community, and a 0–1 score.

A family counts towards ``diversity`` only when it links at least half of
the members (one coincidental shared IP between two of fifty accounts is not
a second kind of evidence) and when the entities doing the linking are
mostly the community's own: a ring's harness fingerprint, proxies and cards
are used by its members, while an SDK fingerprint or a common coding phrase
that happens to tie ten developers is shared with many outsiders. A community
tied by fewer than two families is not coordinated at all.

A distillation ring is two things at once: *coordinated* (one operator's
accounts share payment batches, proxies, templates, sign-up scripts and fire in
lockstep) and *harvesting* (each account sends far more requests than a person
does, often from datacenter address space; or the operation's harness sends its
templates from many rings; or, volume kept ordinary, the identities were bought
for the job: a card batch and a proxy pool). A family, a company or a campus
class is coordinated but not harvesting; an API developer is harvesting but
not coordinated. The score is the product of the two sides, so neither alone
flags a community.

Each feature is one small SQL builder (``FEATURES_SQL``) over
``members(cid, aid)``, the evidence graph and the per-account summaries of
``activity`` (never the raw requests), run into a table of its own and testable
on a toy table; :func:`community_features` joins them. Every threshold is a
field of :class:`linkage.config.ScoringParams`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd

from . import families
from .config import Config, ScoreWeights
from .families import MARKED_PROMPTS
from .sql import among, literal

#: Features counting members who share one of a family's entities with others (see ``Family.share_feature``).
SHARE_FEATURES = ("payment_share", "template_share", "burst_share")
FEATURES = ("diversity", "payment_share", "template_share", "burst_share", "lockstep_share",
            "hosting_share", "volume_ratio", "density")


@dataclass(frozen=True)
class Roles:
    """The families of a run by the part they play in scoring (from the registry)."""

    #: Families that can link accounts (weight > 0): the ``w_<family>`` columns of ``links``.
    weighted: list[str]
    #: Template families of the run, whatever their weight: judged by who uses their entities.
    templates: list[str]
    infrastructure: list[str]
    #: Batch families (card BINs): judged by how improbably one batch concentrates in a community.
    batches: list[str] = field(default_factory=list)
    #: Family -> the family it counts once with (``Family.counts_with``), both in the run.
    partners: dict[str, str] = field(default_factory=dict)
    #: Families whose entities are network addresses (``Family.addresses``).
    addresses: list[str] = field(default_factory=list)
    #: The ``(cid, aid)`` relation the builders score: ``members``, or the candidates among them.
    members: str = "members"

    @property
    def counted(self) -> list[str]:
        """Families that may count towards diversity: the weighted ones, every template and batch family."""
        return self.weighted + [f for f in self.templates + self.batches if f not in self.weighted]

    @classmethod
    def of(cls, config: Config) -> Roles:
        weighted = families.weighted(config)
        fams = list(families.in_run(config))
        batches = [f.name for f in fams if f.batch]
        return cls(weighted=weighted, templates=[f.name for f in fams if f.template],
                   infrastructure=[f.name for f in fams if f.infrastructure and (f.name in weighted or f.batch)],
                   batches=batches, addresses=[f.name for f in fams if f.addresses],
                   partners={f.name: f.counts_with for f in fams if f.counts_with and f.counts_with in config.families})


# --- the builders: one SQL statement each, named by the table it fills ----------------------------


def comm_entities_sql(config: Config, roles: Roles, members: str | None = None) -> str:
    """``(cid, family, entity)``: entities two members or more of a community use, that can link.

    Template entities count at any size (past the pair cap too), since an operator's template
    is used by thousands of its accounts; other entities only while they carry weight.
    ``members`` names the ``(cid, aid)`` relation to read (default: the one the roles score).
    """
    members = members or roles.members
    return f"""
        SELECT m.cid, i.family, i.entity FROM incidence i JOIN {members} m USING (aid)
        JOIN entities e USING (family, entity)
        WHERE {linkable_sql(roles)}
        GROUP BY m.cid, i.family, i.entity HAVING count(*) >= 2"""


def linkable_sql(roles: Roles, e: str = "e", i: str = "i") -> str:
    """The test that an incidence (``i``) of an entity (``e``, a row of ``entities``) can tie members:
    it carries weight, or it is a template phrase more than one account uses."""
    return f"({e}.pair_weight > 0 OR ({among(roles.templates, i + '.family')} AND {e}.accounts >= 2))"


def size_sql(config: Config, roles: Roles) -> str:
    return f"SELECT cid, count(*) AS size FROM {roles.members} GROUP BY cid"


def inner_links_sql(config: Config, roles: Roles) -> str:
    """Links inside each community: count and per-family weight."""
    per_family = "".join(f", sum(l.w_{f}) AS w_{f}" for f in roles.weighted)
    return f"""
        SELECT m1.cid, count(*) AS links {per_family}
        FROM links l JOIN {roles.members} m1 ON m1.aid = l.a JOIN {roles.members} m2 ON m2.aid = l.b AND m2.cid = m1.cid
        GROUP BY m1.cid"""


def coverage_sql(config: Config, roles: Roles) -> str:
    """Per family, how many members it links to another member of the community.

    A link between two accounts of one verified org does not count: shared billing, office network
    and tooling inside a declared organisation are its own business, not covert coordination
    (the evidence graph already discounts those pairs; here they would still cover members).
    """
    if not roles.weighted:
        return f"SELECT DISTINCT cid FROM {roles.members}"
    ends = ", ".join(f"l.w_{f}" for f in roles.weighted)
    cover = ", ".join(f"count(DISTINCT aid) FILTER (WHERE w_{f} > 0) AS c_{f}" for f in roles.weighted)
    return f"""
        WITH inner_pairs AS (
            SELECT m1.cid, l.a, l.b, {ends}
            FROM links l JOIN {roles.members} m1 ON m1.aid = l.a JOIN {roles.members} m2 ON m2.aid = l.b AND m2.cid = m1.cid
            JOIN accounts x ON x.aid = l.a JOIN accounts y ON y.aid = l.b
            WHERE NOT coalesce(x.org_id = y.org_id AND x.org_id <> '', false)
        )
        SELECT cid, {cover} FROM (
            SELECT cid, a AS aid, {', '.join(f'w_{f}' for f in roles.weighted)} FROM inner_pairs
            UNION ALL SELECT cid, b AS aid, {', '.join(f'w_{f}' for f in roles.weighted)} FROM inner_pairs
        ) GROUP BY cid"""


def template_coverage_sql(config: Config, roles: Roles) -> str:
    """Template families: members using ``min_shared`` of the community's shared template entities."""
    counts = ", ".join(
        f"count(*) FILTER (WHERE family = {literal(f)} AND n >= {int(config.families[f].min_shared)}) AS c_{f}"
        for f in roles.templates) or "NULL AS c_none"
    return f"""
        SELECT cid, {counts} FROM (
            SELECT m.cid, i.family, i.aid, count(*) AS n
            FROM incidence i JOIN {roles.members} m USING (aid)
            JOIN comm_entities ce ON ce.cid = m.cid AND ce.family = i.family AND ce.entity = i.entity
            WHERE {among(roles.templates, 'i.family')} GROUP BY ALL
        ) GROUP BY cid"""


def op_use_sql(config: Config, roles: Roles) -> str:
    """Per community and linking entity: how many of its users sit in the community's operation.

    An operator's tools (its template, its proxy pool) are used across all its rings; judged
    ring by ring, each ring looks like one user of a popular resource. Judged over the
    operation, the tool is nearly all the operation's own, while a public template or a
    carrier NAT stays mostly outsiders'.
    """
    return f"""
        WITH used AS (SELECT DISTINCT family, entity FROM comm_entities),
        per_op AS (
            SELECT o.op, i.family, i.entity, count(*) AS members
            FROM incidence i SEMI JOIN used u ON u.family = i.family AND u.entity = i.entity
            JOIN {roles.members} m USING (aid) JOIN operations o USING (cid)
            GROUP BY ALL
        )
        SELECT ce.cid, ce.family, ce.entity, p.members
        FROM comm_entities ce JOIN operations o USING (cid)
        JOIN per_op p ON p.op = o.op AND p.family = ce.family AND p.entity = ce.entity"""


def exclusivity_sql(config: Config, roles: Roles) -> str:
    """Per family, the median linking entity's share of its users inside the community's operation."""
    cols = ", ".join(f"median(members / accounts) FILTER (WHERE family = {literal(f)}) AS x_{f}"
                     for f in roles.counted) or "NULL AS x_none"
    return f"""
        SELECT cid, {cols} FROM (
            SELECT su.cid, su.family, su.entity, su.members, e.accounts
            FROM op_use su JOIN entities e USING (family, entity)
        ) GROUP BY cid"""


def shares_sql(config: Config, roles: Roles) -> str:
    """Per share feature (``payment_share``, ``template_share``…): members using one of the family's
    entities together with at least ``share_k`` members in all (a card batch, a template, a sign-up burst)."""
    shares = [(f.share_feature, f.name, config.families[f.name].share_k)
              for f in families.in_run(config) if f.share_feature and config.families[f.name].share_k > 0]
    if not shares:
        return f"SELECT DISTINCT cid FROM {roles.members}"
    cols = ", ".join(f"count(DISTINCT u.aid) FILTER (WHERE u.family = {literal(fam)} AND n.k >= {int(k)}) AS {feature}_n"
                     for feature, fam, k in shares)
    # Entities counted per community by grouping, then joined back (a window partitioned by entity sorts it all).
    return f"""
        WITH uses AS (SELECT m.cid, i.family, i.entity, i.aid FROM incidence i JOIN {roles.members} m USING (aid)
                      WHERE {among([fam for _, fam, _ in shares], 'i.family')}),
        n AS (SELECT cid, family, entity, count(*) AS k FROM uses GROUP BY cid, family, entity
              HAVING count(*) >= {min(int(k) for _, _, k in shares)})
        SELECT u.cid, {cols}
        FROM uses u LEFT JOIN n ON n.cid = u.cid AND n.family = u.family AND n.entity = u.entity
        GROUP BY u.cid"""


def lockstep_sql(config: Config, roles: Roles) -> str:
    """Share of the community's requests sent in windows where many members are active at once.

    ``(aid, win)`` is unique in ``acct_windows``, so ``count(*)`` counts active members.
    """
    s = config.scoring
    return f"""
        WITH wins AS (
            SELECT m.cid, w.win, count(*) AS active, sum(w.requests) AS req
            FROM acct_windows w JOIN {roles.members} m USING (aid) GROUP BY m.cid, w.win
        )
        SELECT w.cid, sum(w.req) FILTER (
                   WHERE w.active >= greatest({int(s.lockstep_min_active)}, {float(s.lockstep_min_share)!r} * z.size)
               ) / sum(w.req) AS lockstep_share
        FROM wins w JOIN f_size z USING (cid) GROUP BY w.cid"""


def hosting_sql(config: Config, roles: Roles) -> str:
    """Share of the community's requests from hosting ASNs, and its request total."""
    return f"""
        SELECT m.cid, sum(v.hosting_requests) / nullif(sum(v.requests), 0) AS hosting_share, sum(v.requests) AS requests
        FROM {roles.members} m JOIN acct_activity v USING (aid) GROUP BY m.cid"""


def volume_sql(config: Config, roles: Roles) -> str:
    """Members' median volume against the batch's median account, and the batch's ordinary heavy users.

    ``heavy_ratio`` is the ``heavy_quantile`` of the volume of accounts outside every community,
    as a multiple of the median: what the busiest ordinary users send. A group whose members
    send no more than that is working hard, not harvesting (a research team); volume counts as
    harvesting only beyond it. Relative to the batch, so it holds as the platform's usage grows.
    """
    q = float(config.scoring.heavy_quantile)
    return f"""
        WITH pop AS (SELECT greatest(1, median(coalesce(v.requests, 0))) AS pop_median,
                            quantile_cont(coalesce(v.requests, 0), {q!r}) FILTER (
                                WHERE a.aid NOT IN (SELECT aid FROM members)) AS heavy
                     FROM accounts a LEFT JOIN acct_activity v USING (aid))
        SELECT m.cid, median(coalesce(v.requests, 0)) AS median_requests, any_value(pop.pop_median) AS pop_median,
               median(coalesce(v.requests, 0)) / any_value(pop.pop_median) AS volume_ratio,
               coalesce(any_value(pop.heavy), 0) / any_value(pop.pop_median) AS heavy_ratio
        FROM {roles.members} m LEFT JOIN acct_activity v USING (aid), pop GROUP BY m.cid"""


def templated_sql(config: Config, roles: Roles) -> str:
    """Templated harvesting: members sending templates their operation uses in several rings, and what they ask.

    - ``template_rings``: how many communities of the operation carry phrases that are in the
      template profiles (``linkage.operations``) of two communities or more of the operation;
    - ``template_reach``: share of members using ``min_shared`` of their template: those operation
      phrases and, when the community's own profile carries some of them, the rest of that profile.
      Rings of one operation often favour their own variant of its template, so what they share
      with the other rings is only part of what each sends; and a ring tied to one small sibling
      shares little with it. A profile that shares nothing with the operation's template is some
      other template, and the operation's breadth says nothing about it;
    - ``templated_prompts``: among those members, the median share of their sampled prompts that
      carry any of their template's phrases, exact n-grams and paraphrase bands alike (the two
      families see one artefact: slot-filling breaks a template's exact n-grams long before its
      word set), from the phrases' marks (``template_marks``: OR-ed, so a harness spreading its
      prompts over three variants fills its template in all of them). A harness fills its template
      in most of what it sends, or in a good part when it mixes in other prompts; people who run a
      shared evaluation prompt or borrow a public one write most of what they send themselves
      (prompt diversity). Share alone does not tell a starter prompt from a mixing harness: where
      the template is sent from does (``template_networks``). Without marks (a stored graph) it
      is the most used phrase's share, a lower bound;
    - ``template_networks``: where the operation's template carriers reach the platform from: the
      effective number of networks (as ``pool_networks``) of the addresses two carriers' members or
      more use, and ``template_placed``, the share of the carriers' members seen at them. People who
      share a starter prompt share a place or a few (a venue and their phones, a campus, homes); an
      operation's rings sending one template reach the platform through proxy pools whose exits sit
      on dozens of networks. Members never seen at a shared address say nothing of places;
    - ``focus``: share of the members' sampled prompts that ask for code or an agent's work
      (``linkage.topics``), the reported campaign's targets.
    """
    min_shared = {f: int(config.families[f].min_shared) for f in roles.templates}
    shared = " OR ".join(f"(family = {literal(f)} AND n >= {k})" for f, k in min_shared.items()) or "false"
    # Where the carriers reach the platform from: addresses two of them or more use, by network (as pool_sql).
    places = "" if not roles.addresses else f"""
        used AS (SELECT c.op, m.aid, i.entity FROM incidence i JOIN {roles.members} m USING (aid)
                 JOIN carriers c USING (cid) WHERE {among(roles.addresses, 'i.family')}),
        shared_at AS (SELECT op, entity FROM used GROUP BY op, entity HAVING count(DISTINCT aid) >= 2),
        at_place AS (SELECT DISTINCT u.op, u.aid, n.network
                     FROM used u SEMI JOIN shared_at a ON a.op = u.op AND a.entity = u.entity
                     JOIN ip_networks n ON n.entity = u.entity),
        places AS (
            SELECT op, CAST(sum(users) AS DOUBLE) * sum(users) / sum(users * users) AS networks FROM (
                SELECT op, network, count(*) AS users FROM at_place GROUP BY op, network
            ) GROUP BY op
        ),
        placed AS (
            SELECT c.op, count(DISTINCT p.aid) / count(DISTINCT m.aid) AS placed
            FROM carriers c JOIN {roles.members} m USING (cid)
            LEFT JOIN (SELECT DISTINCT op, aid FROM at_place) p ON p.op = c.op AND p.aid = m.aid GROUP BY c.op
        ),"""
    networks = ("pl.networks AS template_networks, coalesce(pd.placed, 0.0) AS template_placed" if roles.addresses
                else "CAST(NULL AS DOUBLE) AS template_networks, 0.0 AS template_placed")
    join_places = (" LEFT JOIN places pl ON pl.op = o.op LEFT JOIN placed pd ON pd.op = o.op"
                   if roles.addresses else "")
    return f"""
        WITH op_phrases AS (
            SELECT o.op, p.family, p.entity FROM profiles p JOIN operations o USING (cid)
            GROUP BY ALL HAVING count(*) >= 2
        ),
        spread AS (
            SELECT o.op, count(DISTINCT p.cid) AS rings FROM profiles p JOIN operations o USING (cid)
            SEMI JOIN op_phrases q ON q.op = o.op AND q.family = p.family AND q.entity = p.entity
            GROUP BY o.op
        ),
        carriers AS (
            SELECT DISTINCT o.op, p.cid FROM profiles p JOIN operations o USING (cid)
            SEMI JOIN op_phrases q ON q.op = o.op AND q.family = p.family AND q.entity = p.entity
        ),{places}
        phrases AS (
            SELECT o.cid, q.family, q.entity FROM operations o JOIN op_phrases q USING (op)
            UNION SELECT p.cid, p.family, p.entity FROM profiles p SEMI JOIN carriers c USING (cid)
        ),
        uses AS (
            SELECT m.cid, i.aid, i.family, count(*) AS n, max(i.requests) AS occurrences, bit_or(k.marks) AS marks
            FROM incidence i JOIN {roles.members} m USING (aid)
            SEMI JOIN phrases q ON q.cid = m.cid AND q.family = i.family AND q.entity = i.entity
            LEFT JOIN template_marks k ON k.aid = i.aid AND k.family = i.family AND k.entity = i.entity
            GROUP BY ALL
        ),
        reaching AS (
            SELECT u.cid, u.aid,
                   CASE WHEN bit_or(u.marks) IS NULL THEN least(1.0, max(u.occurrences) / any_value(t.prompts))
                        ELSE bit_count(bit_or(u.marks)) / least(any_value(t.prompts), {MARKED_PROMPTS}) END AS share
            FROM uses u JOIN acct_topics t USING (aid) GROUP BY u.cid, u.aid HAVING bool_or({shared})
        ),
        reach AS (SELECT cid, count(*) AS n, median(share) AS share FROM reaching GROUP BY cid),
        focus AS (
            SELECT m.cid, sum(t.focused) / nullif(sum(t.prompts), 0) AS focus
            FROM {roles.members} m JOIN acct_topics t USING (aid) GROUP BY m.cid
        )
        SELECT z.cid, coalesce(r.n, 0) / z.size AS template_reach, coalesce(s.rings, 0) AS template_rings,
               coalesce(r.share, 0) AS templated_prompts, {networks}, f.focus
        FROM f_size z JOIN operations o USING (cid) LEFT JOIN reach r USING (cid)
        LEFT JOIN spread s ON s.op = o.op LEFT JOIN focus f USING (cid){join_places}"""


def batch_sql(config: Config, roles: Roles) -> str:
    """Batch families: members holding the community's batch entity, and the chance bound of that many.

    Reads ``card_batches`` (``linkage.operations``), which holds the test of a batch.
    """
    cols = ", ".join(f"max(CASE WHEN passes THEN covered ELSE holders END) FILTER (WHERE family = {literal(f)}) AS c_{f}, "
                     f"max(surprise) FILTER (WHERE family = {literal(f)}) AS s_{f}, "
                     f"bool_or(passes) FILTER (WHERE family = {literal(f)}) AS p_{f}" for f in roles.batches)
    return f"SELECT cid, {cols} FROM card_batches GROUP BY cid" if cols else f"SELECT DISTINCT cid FROM {roles.members}"


def pool_sql(config: Config, roles: Roles) -> str:
    """``pool_networks``: how many networks the addresses members share within their operation span.

    People who share addresses because they share a place (a home, an office, a campus, a venue)
    share one network, or two with their phones; accounts routed through a bought proxy pool share
    addresses spread over many unrelated ones. Counted as the effective number of networks (the
    inverse Simpson index of members' uses of shared addresses by network): a community with one
    member on a second network still counts about one, while one spread evenly over five counts five.
    Addresses are shared within the operation (two of its accounts or more use them), since a pool is
    the operation's and a small community of it may reach the platform through its siblings' exits.
    """
    if not roles.addresses:
        return f"SELECT DISTINCT cid, 0.0 AS pool_networks FROM {roles.members}"
    return f"""
        WITH om AS (SELECT o.op, m.cid, m.aid FROM {roles.members} m JOIN operations o USING (cid)),
        used AS (SELECT om.op, om.cid, om.aid, i.entity FROM incidence i JOIN om USING (aid)
                 WHERE {among(roles.addresses, 'i.family')}),
        shared AS (SELECT op, entity FROM used GROUP BY op, entity HAVING count(DISTINCT aid) >= 2),
        uses AS (SELECT u.cid, n.network, count(DISTINCT u.aid) AS users
                 FROM used u SEMI JOIN shared s ON s.op = u.op AND s.entity = u.entity
                 JOIN ip_networks n ON n.entity = u.entity GROUP BY u.cid, n.network)
        SELECT cid, CAST(sum(users) AS DOUBLE) * sum(users) / sum(users * users) AS pool_networks
        FROM uses GROUP BY cid"""


Builder = Callable[[Config, Roles], str]

#: ``f_<name>`` tables, in the order they are built (later ones may read earlier ones).
FEATURES_SQL: dict[str, Builder] = {
    "size": size_sql, "inner_links": inner_links_sql, "coverage": coverage_sql,
    "template_coverage": template_coverage_sql, "exclusivity": exclusivity_sql, "shares": shares_sql,
    "lockstep": lockstep_sql, "hosting": hosting_sql, "volume": volume_sql, "templated": templated_sql,
    "batch": batch_sql, "pool": pool_sql,
}


def candidates_sql(config: Config) -> str:
    """``(cid, aid)``: members of the communities that can be rings: as large as a ring, or part of an
    operation of two communities or more that is (a small community counts only as part of one).

    An operation's communities are all candidates or none, so every per-operation reading is whole.
    """
    n = int(config.min_ring_size)
    return f"""
        SELECT m.cid, m.aid FROM members m JOIN operations o USING (cid)
        JOIN (SELECT cid, count(*) AS size FROM members GROUP BY cid) s USING (cid)
        WHERE s.size >= {n} OR (o.op_size >= {n} AND o.op_communities >= 2)"""


def community_features(con: duckdb.DuckDBPyConnection, config: Config) -> pd.DataFrame:
    """One row per candidate community (:func:`candidates_sql`) with the raw features (see module docstring).

    Most communities are two or three accounts on their own, too small to be a ring; scoring only
    the candidates keeps the cost with the accounts that can be flagged.
    """
    roles = dataclasses.replace(Roles.of(config), members="scored_members")
    con.execute(f"CREATE OR REPLACE TEMP TABLE scored_members AS {candidates_sql(config)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE comm_entities AS {comm_entities_sql(config, roles)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE op_use AS {op_use_sql(config, roles)}")
    for name, build in FEATURES_SQL.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE f_{name} AS {build(config, roles)}")
    df = con.execute(_joined_sql(config, roles)).df()
    df["diversity"] = np.clip(df["families"] / float(config.scoring.diversity_full), 0, 1)
    for name in ("scored_members", "comm_entities", "op_use", *(f"f_{n}" for n in FEATURES_SQL)):
        if not config.keep_tables:
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return df


def _passes(config: Config, roles: Roles) -> dict[str, str]:
    """Per counted family, the SQL test that it counts for a community (covers enough members, exclusively;
    for a batch family, improbably)."""
    s = config.scoring
    out = {}
    for f in roles.counted:
        if f in roles.batches:
            out[f] = f"coalesce(bt.p_{f}, false)"
            continue
        covered = f"coalesce(tc.c_{f}, 0)" if f in roles.templates else f"cov.c_{f}"
        out[f] = (f"({covered} >= {float(s.min_coverage)!r} * z.size AND coalesce(ex.x_{f}, 0) >= "
                  f"{float(config.families[f].min_exclusivity)!r})")
    return out


def _counted_once(roles: Roles, passes: dict[str, str], among: list[str]) -> list[str]:
    """One test per artefact among ``among``: the template families (exact n-grams, paraphrase bands) are
    one, and a family with a partner (fresh cards of one batch, cards shared outright) is one with it."""
    groups: dict[str, list[str]] = {}
    for f in among:
        partner = roles.partners.get(f)
        key = "template" if f in roles.templates else partner if partner in among else f
        groups.setdefault(key, []).append(f)
    return ["(" + " OR ".join(passes[f] for f in g) + ")" for g in groups.values()]


def _joined_sql(config: Config, roles: Roles) -> str:
    passes = _passes(config, roles)
    diversity = " + ".join(f"CAST({t} AS INTEGER)" for t in _counted_once(roles, passes, roles.counted)) or "0"
    infra_fams = [f for f in roles.counted if f in roles.infrastructure]
    infra = " + ".join(f"CAST({t} AS INTEGER)" for t in _counted_once(roles, passes, infra_fams)) or "0"
    weights = "".join(f", coalesce(il.w_{f}, 0) AS w_{f}" for f in roles.weighted)
    # Per family: members it covers, its median exclusivity and whether it counts (for the watchlist and explain).
    def cover(f: str) -> str:
        table = "bt" if f in roles.batches else "tc" if f in roles.templates else "cov"
        return f"coalesce({table}.c_{f}, 0)"

    detail = "".join(
        f", {cover(f)} AS cover_{f}, {passes[f]} AS pass_{f}"
        # A batch is judged by its chance, not exclusivity (its BIN is shared with ordinary payers by design).
        + (f", exp(-coalesce(bt.s_{f}, 0)) AS chance_{f}" if f in roles.batches else f", coalesce(ex.x_{f}, 0) AS excl_{f}")
        for f in roles.counted)
    present = {f.share_feature for f in families.in_run(config)
               if f.share_feature and config.families[f.name].share_k > 0}
    # A batch family adds its holders to its partner's share feature (members paying from the ring's cards).
    batch_share = {families.get(p).share_feature: f for f, p in roles.partners.items()
                   if f in roles.batches and families.get(p).share_feature}

    def share(feature: str) -> str:
        own = f"coalesce(sh.{feature}_n, 0) / z.size" if feature in present else "0.0"
        f = batch_share.get(feature)
        return f"greatest({own}, CASE WHEN {passes[f]} THEN bt.c_{f} / z.size ELSE 0.0 END)" if f else own

    shares = "".join(f"{share(feature)} AS {feature}, " for feature in SHARE_FEATURES)
    paid = " OR ".join(passes[f] for f in roles.batches) or "false"
    return f"""
        SELECT z.cid, z.size, o.op, o.op_size, o.op_rings, o.op_communities, coalesce(il.links, 0) AS links,
               coalesce(il.links, 0) / (z.size * (z.size - 1) / 2.0) AS density,
               coalesce({diversity}, 0) AS families,
               coalesce({infra}, 0) AS infra_families,
               {shares}
               coalesce(lk.lockstep_share, 0) AS lockstep_share,
               coalesce(ho.hosting_share, 0) AS hosting_share,
               coalesce(ho.requests, 0) AS requests,
               vo.median_requests, vo.pop_median, vo.volume_ratio, vo.heavy_ratio,
               coalesce(tp.template_reach, 0) AS template_reach, coalesce(tp.template_rings, 0) AS template_rings,
               coalesce(tp.templated_prompts, 0) AS templated_prompts,
               tp.template_networks, coalesce(tp.template_placed, 0) AS template_placed, coalesce(tp.focus, 0) AS focus,
               coalesce(pl.pool_networks, 0) AS pool_networks, {paid} AS batch_paid {weights} {detail}
        FROM f_size z
        JOIN operations o USING (cid)
        LEFT JOIN f_inner_links il USING (cid)
        LEFT JOIN f_coverage cov USING (cid)
        LEFT JOIN f_template_coverage tc USING (cid)
        LEFT JOIN f_exclusivity ex USING (cid)
        LEFT JOIN f_shares sh USING (cid)
        LEFT JOIN f_lockstep lk USING (cid)
        LEFT JOIN f_hosting ho USING (cid)
        LEFT JOIN f_volume vo USING (cid)
        LEFT JOIN f_templated tp USING (cid)
        LEFT JOIN f_batch bt USING (cid)
        LEFT JOIN f_pool pl USING (cid)
        ORDER BY z.cid"""


def score(features: pd.DataFrame, config: Config | None = None, weights: ScoreWeights | None = None) -> pd.DataFrame:
    """Add ``coordination``, ``harvesting`` and ``score`` columns; pure function of the features.

    Harvesting rises with the members' median volume relative to the whole
    batch's median account: 1 at ``harvest_full_ratio`` times the median, 0 at or below it.
    It is also shown by a template sent from many rings (``templated_harvest``), and by identities
    bought for the job (``procured``): members paying from one card batch *and* reaching the
    platform through a proxy pool. Neither purchase is something ordinary people make together,
    and an operator who keeps each account's volume ordinary still has to buy both; a company's
    card programme comes with one office network, a campus's addresses with one campus.
    """
    s = (config or Config()).scoring
    weights = weights or s.weights
    out = features.copy()
    coord = np.zeros(len(out))
    for name, w in vars(weights).items():
        coord += w * out[name].to_numpy(dtype=float)
    # One family alone (a shared phrase, one NAT) is coincidence, not coordination; and software alone
    # (an SDK fingerprint plus common phrasing) is what developers share: infrastructure must be in it.
    independent: float | npt.NDArray[np.bool_] = 1.0
    if "families" in out:
        independent = ((out["families"].to_numpy(dtype=float) >= s.min_families)
                       & (out["infra_families"].to_numpy(dtype=float) >= s.min_infrastructure))
    out["coordination"] = np.clip(coord / s.coordination_full, 0, 1) * independent
    floor = np.full(len(out), s.harvest_floor_ratio)
    if "heavy_ratio" in out:  # no less than what the batch's busiest ordinary users send
        floor = np.maximum(floor, out["heavy_ratio"].to_numpy(dtype=float))
    full = np.maximum(s.harvest_full_ratio, 2 * floor)
    ratio = np.maximum(out["volume_ratio"].to_numpy(dtype=float), floor)
    volume = np.clip(np.log(ratio / floor) / np.log(full / floor), 0, 1)
    templated = np.zeros(len(out))
    if "template_reach" in out:  # templates sent the same way from several rings, asking for code or agents' work
        breadth = np.clip((out["template_rings"].to_numpy(dtype=float) - 1) / max(s.template_rings_full - 1, 1), 0, 1)
        focus = np.clip((out["focus"].to_numpy(dtype=float) - s.focus_floor) / (s.focus_full - s.focus_floor), 0, 1)
        reach: npt.NDArray[np.float64] = out["template_reach"].to_numpy(dtype=float)
        templated = reach * breadth * focus
        if "templated_prompts" in out:  # the template is what they send, not one prompt among their own
            share = out["templated_prompts"].to_numpy(dtype=float)
            templated = templated * np.clip((share - s.templated_floor) / (s.templated_full - s.templated_floor), 0, 1)
        if "template_networks" in out:  # sent from many places (proxy pools), not from a few (a venue, a campus)
            places = np.nan_to_num(out["template_networks"].to_numpy(dtype=float), nan=s.places_full)
            spread = np.clip((places - s.places_floor) / max(s.places_full - s.places_floor, 1e-9), 0, 1)
            placed = np.clip(out["template_placed"].to_numpy(dtype=float), 0, 1)  # members seen at those places
            templated = templated * (1 - placed * (1 - spread))
    procured = np.zeros(len(out))
    if "pool_networks" in out and "batch_paid" in out:  # identities bought for the job: a card batch, a proxy pool
        spread = out["pool_networks"].to_numpy(dtype=float)
        pooled = np.clip((spread - s.pool_floor) / max(s.pool_full - s.pool_floor, 1e-9), 0, 1)
        procured = np.where(out["batch_paid"].to_numpy(dtype=bool), pooled, 0.0)
    out["volume_harvest"] = volume
    out["templated_harvest"] = templated
    out["procured"] = procured
    out["harvesting"] = 1 - (1 - volume) * (1 - templated) * (1 - procured)
    out["score"] = np.round(np.sqrt(out["coordination"] * out["harvesting"]), 4)
    return out
