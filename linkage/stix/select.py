"""What may leave: the indicators of each actor (intrusion set, :mod:`linkage.stix.run`) that pass every export rule.

The rules (``Policy``), each a guard against handing a partner something that would hurt
ordinary users:

- only flagged rings (``rings.json`` lists nothing below the flag threshold);
- only entities shared by at least ``min_accounts`` of the actor's accounts (infrastructure,
  not one account's home line);
- never a hub (an entity past its family's cap carries no weight here, so it is no evidence
  there either), never a free-mail domain;
- never anything unflagged accounts use beyond ``max_benign_share`` of its users: a campus
  gateway or a public SDK fingerprint that a ring also touched stays home.

Selection is SQL over the run's evidence views (see :mod:`linkage.stix.run`); only the
exported entities (thousands, not millions) come back to Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pandas as pd

from ..config import FREE_MAIL_DOMAINS
from .model import KINDS
from .run import Run


@dataclass(frozen=True)
class Policy:
    """Export thresholds, in one place."""

    #: An entity whose users include more than this share of unflagged accounts is not exported.
    max_benign_share: float = 0.1
    #: An entity must be used by at least this many accounts of the actor.
    min_accounts: int = 2
    #: Template excerpts shorter than this say too little to match on (the matcher needs 2+ n-grams).
    min_template_words: int = 6
    max_template_words: int = 40
    #: Per actor, the excerpts most of its accounts used.
    max_templates: int = 12


#: Families whose entities become pattern indicators (accounts and templates are handled apart).
INDICATOR_FAMILIES = tuple(sorted({k.family for k in KINDS} - {"account"}))


def _family_caps(run: Run) -> pd.DataFrame:
    """``(family, cap)`` as the run used them (``RunFolder.config`` gives defaults for what it did not record)."""
    return pd.DataFrame([(f, run.config.families[f].cap) for f in (*INDICATOR_FAMILIES, "prompt")
                         if f in run.config.families], columns=["family", "cap"])


def _selection_sql(families: tuple[str, ...]) -> str:
    """Per (actor, family, entity) passing the rules: usage by the actor and by everyone.

    ``cap = 0`` marks a context-only family (ASNs): it has no hubs, only the benign-share rule.
    A family may carry no link weight and still leave (network prefixes): only the hub cap and the
    benign-share rule decide, since what a partner matches on is the entity, not its weight here.
    """
    fams = ", ".join("'" + f + "'" for f in families)  # fixed names from this module, never input
    return f"""
        WITH flagged AS (SELECT DISTINCT aid FROM export_members),
        used AS (
            SELECT i.family, i.entity, count(DISTINCT i.aid) AS flagged
            FROM incidence i JOIN flagged USING (aid) WHERE i.family IN ({fams}) GROUP BY ALL
        ),
        op AS (
            SELECT r.actor, i.family, i.entity, count(DISTINCT i.aid) AS op_accounts,
                   count(DISTINCT r.ring_id) AS rings, sum(i.requests) AS requests,
                   min(i.first) AS first_seen, max(i.last) AS last_seen
            FROM incidence i JOIN export_members r USING (aid) WHERE i.family IN ({fams}) GROUP BY ALL
        )
        SELECT op.*, e.accounts, u.flagged, e.accounts - u.flagged AS unflagged
        FROM op JOIN entities e USING (family, entity) JOIN used u USING (family, entity)
             JOIN export_family_caps p USING (family)
        WHERE op.op_accounts >= $min_accounts
          AND e.accounts - u.flagged <= $max_benign_share * e.accounts
          AND (p.cap = 0 OR NOT e.hub)
          AND NOT (op.family = 'email' AND op.entity IN (SELECT domain FROM export_free_mail))
        ORDER BY op.actor, op.family, op.entity
    """


def select_entities(run: Run, policy: Policy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(indicators, shingles)``: infrastructure entities and template n-grams each actor may export.

    Both carry ``actor, family, entity, op_accounts, rings, requests, first_seen, last_seen,
    accounts, flagged, unflagged``; shingles add ``text``.
    """
    con = run.con
    con.register("export_family_caps", _family_caps(run))
    con.register("export_free_mail", pd.DataFrame({"domain": sorted(FREE_MAIL_DOMAINS)}))
    params = {"min_accounts": policy.min_accounts, "max_benign_share": policy.max_benign_share}
    try:
        entities = con.execute(_selection_sql(INDICATOR_FAMILIES), params).df()
        shingles = con.execute(
            f"SELECT s.*, t.text FROM ({_selection_sql(('prompt',))}) s JOIN shingle_texts t USING (entity) "
            "ORDER BY s.actor, s.entity", params).df()
    finally:
        con.unregister("export_family_caps")
        con.unregister("export_free_mail")
    return entities, shingles


def assemble_templates(grams: pd.DataFrame, policy: Policy) -> list[tuple[str, int]]:
    """Chain one actor's overlapping n-grams into runs of fixed template text; pure.

    A harness fills slots in a fixed text, so the n-grams that recur are the fixed runs between
    slots, each overlapping the next by n-1 words. Following unambiguous overlaps rebuilds those
    runs; an excerpt built so has every n-gram real, which is what a partner's matcher counts.
    Returns ``(excerpt, accounts)``, the runs most of the actor's accounts used first.

    >>> g = pd.DataFrame({"text": ["fill in the blank", "in the blank below", "the blank below now"],
    ...                   "op_accounts": [5, 4, 5]})
    >>> assemble_templates(g, Policy(min_template_words=5))
    [('fill in the blank below now', 5)]
    """
    words = {t: t.split(" ") for t in grams["text"] if "" not in t.split(" ")}
    weight = dict(zip(grams["text"], grams["op_accounts"]))
    by_head, by_tail = defaultdict(list), defaultdict(list)
    for text, w in sorted(words.items()):
        by_head[tuple(w[:-1])].append(text)
        by_tail[tuple(w[1:])].append(text)
    succ = {t: by_head.get(tuple(w[1:]), []) for t, w in words.items()}
    pred = {t: by_tail.get(tuple(w[:-1]), []) for t, w in words.items()}

    def follows(t: str) -> str | None:  # the one gram after t, if t is also the only one before it
        nxt = succ[t]
        return nxt[0] if len(nxt) == 1 and len(pred[nxt[0]]) == 1 else None

    seen: set[str] = set()
    runs = []
    starts = [t for t in sorted(words) if not (len(pred[t]) == 1 and follows(pred[t][0]) == t)]
    for start in starts + sorted(words):  # then what is left: cycles of repeated phrasing
        if start in seen:
            continue
        chain, t = [start], start
        seen.add(start)
        while (t := follows(t)) is not None and t not in seen:
            chain.append(t)
            seen.add(t)
        text = words[chain[0]] + [words[c][-1] for c in chain[1:]]
        if len(text) >= policy.min_template_words:
            runs.append((" ".join(text[:policy.max_template_words]), max(int(weight[c]) for c in chain)))
    runs.sort(key=lambda r: (-r[1], -len(r[0]), r[0]))
    return runs[:policy.max_templates]


__all__ = ["INDICATOR_FAMILIES", "Policy", "assemble_templates", "select_entities"]
