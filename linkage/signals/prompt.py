"""Prompt n-gram reuse: a harvesting harness fills the slots of a few templates.

Each account's prompts (a deterministic sample of at most
``prompts_per_account`` distinct ones) are cut into hashed word n-grams
(shingles). A shingle that recurs in at least ``template_min_prompts`` of the
account's own prompts is part of a template it uses: slot-filled variations keep
the template's fixed words, so they still share shingles, while one-off
phrasing does not. Rarity weighting in ``common`` then makes a public template
used by thousands, or a common phrase, carry nothing.

At fifty million requests this is the costliest signal, so the work is kept to
what can matter: the sample is chosen on prompt hashes before any text is
touched, accounts with fewer than ``template_min_prompts`` distinct prompts are
skipped (no shingle of theirs can recur), a shingle's hash combines its words'
hashes instead of building its text, and the sampled word lists are kept in
``prompt_words`` so that the readable text of the kept shingles is recovered
from one occurrence per shingle, not by reading the prompts again.

That internal hash is DuckDB's and only groups occurrences within the run. A
shingle shared by two accounts or more is evidence that leaves the run (Neo4j
node keys, evidence files, report labels, intel matching), so it is keyed by
:func:`template_key`: the stable digest of its text (``linkage.ids``). A shingle
only one account uses can tie nobody and is dropped here.
"""

from __future__ import annotations

from duckdb import DuckDBPyConnection

from ..config import Config
from ..families import Family, FamilyParams, GraphNode, marks_sql, register
from ..ids import sql_digest
from ..topics import focused_sql


def words_expr(text: str) -> str:
    """Lower-cased words split at anything not a letter or digit; the same rule for prompts and intel.

    Leading or trailing punctuation leaves an empty word at that end; it is kept (one split, no
    clean-up pass over millions of prompts) and is the same for every prompt of a template.
    """
    return f"regexp_split_to_array(lower({text}), '[^\\pL\\pN]+')"


def template_key(text: str) -> str:
    """SQL for the stable key of a shingle from its text (its words joined by single spaces)."""
    return sql_digest(text)


def _gram_hash(words: str, n: int, i: str) -> str:
    return f"hash({', '.join(f'{words}[{i} + {k}]' for k in range(n))})"


def _gram_text(words: str, n: int, i: str) -> str:
    return f"array_to_string({words}[{i}:{i} + {n} - 1], ' ')"


def sampled_prompts_sql(config: Config, accounts: str | None = None, min_prompts: int = 1) -> str:
    """``(aid, prompt, idx)``: per account, its ``prompts_per_account`` distinct prompts of smallest hash.

    ``idx`` is the prompt's position in its account's sample (0 first), which its marks name.

    ``accounts`` optionally restricts to ``aid IN (accounts)``; accounts with fewer
    than ``min_prompts`` distinct prompts are left out.
    """
    only = f"AND aid IN ({accounts})" if accounts else ""
    return f"""
        WITH d AS (SELECT DISTINCT aid, hash(prompt) AS h FROM events WHERE prompt IS NOT NULL {only}),
        pick AS (
            SELECT aid, h, row_number() OVER (PARTITION BY aid ORDER BY h) - 1 AS idx FROM d
            QUALIFY idx < {int(config.prompts_per_account)} AND count(*) OVER (PARTITION BY aid) >= {int(min_prompts)}
        )
        SELECT e.aid, min(e.prompt) AS prompt, p.idx
        FROM events e JOIN pick p ON p.aid = e.aid AND p.h = hash(e.prompt)
        WHERE e.prompt IS NOT NULL
        GROUP BY e.aid, p.h, p.idx
    """


def prepare(con: DuckDBPyConnection, config: Config) -> None:
    """Stage the shingles: ``prompt_words``, ``prompt_grams`` (internal hashes) and ``shingle_texts``.

    - ``prompt_words(aid, idx, w)``: word lists of the sampled prompts that can hold a template;
    - ``prompt_grams(aid, h, requests, marks)``: shingles recurring in at least ``template_min_prompts``
      of the account's prompts (each prompt's shingles are not de-duplicated first, which costs
      more than the rest; the prompt's ``rowid`` tells repeats within one prompt from recurrence
      across prompts, ``requests`` counts occurrences and ``marks`` names the prompts, see ``families.marks_sql``);
    - ``shingle_keys(h, entity, text)``: the stable key and text of every shingle two accounts or
      more use, read from one occurrence each; ``shingle_texts(entity, text)`` keeps the readable part
      for the graph, the report and explain.
    """
    n, m = int(config.shingle_size), int(config.template_min_prompts)
    # Accounts with fewer distinct prompts than a template needs are never read (no shingle of theirs can recur).
    con.execute(f"CREATE OR REPLACE TEMP TABLE prompt_sample AS {sampled_prompts_sql(config, min_prompts=m)}")
    # What each account asks for (coding, agentic, other): harvesting evidence for scoring, never a link.
    con.execute(
        f"""CREATE OR REPLACE TABLE acct_topics AS
            SELECT aid, count(*) AS prompts, count(*) FILTER (WHERE {focused_sql('prompt')}) AS focused
            FROM prompt_sample GROUP BY aid"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE prompt_words AS
            SELECT aid, idx, w FROM (
                SELECT aid, idx, {words_expr('prompt')} AS w FROM prompt_sample
            ) WHERE array_length(w) >= {n}"""
    )
    con.execute("DROP TABLE prompt_sample")
    grams = f"list_transform(range(1, array_length(w) - {n} + 2), lambda i: {_gram_hash('w', n, 'i')})"
    recurs = "min(pid) < max(pid)" if m == 2 else f"count(DISTINCT pid) >= {m}"  # the same test; min/max is cheap
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE prompt_grams AS
            SELECT aid, h, count(*) AS requests, bit_or({marks_sql('idx')}) AS marks
            FROM (SELECT aid, rowid AS pid, idx, unnest({grams}) AS h FROM prompt_words)
            GROUP BY aid, h HAVING {recurs}"""
    )
    # One occurrence (the reader account's first prompt holding it) per shared shingle gives its text.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE shingle_keys AS
            WITH shared AS (SELECT h, min(aid) AS aid FROM prompt_grams GROUP BY h HAVING count(*) >= 2),
            occ AS (
                SELECT s.h, min({{'p': u.pid, 'i': u.i}}) AS at
                FROM (SELECT aid, pid, i, {_gram_hash('w', n, 'i')} AS h
                      FROM (SELECT aid, rowid AS pid, w, unnest(range(1, array_length(w) - {n} + 2)) AS i
                            FROM prompt_words WHERE aid IN (SELECT aid FROM shared))) u
                JOIN shared s ON s.h = u.h AND s.aid = u.aid
                GROUP BY s.h
            ),
            texts AS (
                SELECT o.h, {_gram_text('p.w', n, 'o.at.i')} AS text
                FROM occ o JOIN prompt_words p ON p.rowid = o.at.p
            )
            SELECT h, {template_key('text')} AS entity, text FROM texts"""
    )
    con.execute("CREATE OR REPLACE TABLE shingle_texts AS SELECT entity, text FROM shingle_keys ORDER BY entity")


def sql(config: Config) -> str:
    """Incidences of the shared shingles, keyed by their stable digest, with the prompts they are in."""
    return """
        SELECT g.aid, k.entity, g.requests, CAST(NULL AS TIMESTAMPTZ) AS first, CAST(NULL AS TIMESTAMPTZ) AS last,
               g.marks
        FROM prompt_grams g JOIN shingle_keys k USING (h)
    """


def excerpt_shingles_sql(config: Config, source: str = "intel") -> str:
    """``(operator, kind, value, entity, shingles)``: the stable keys of each prompt excerpt's shingles.

    The one definition of how an intel excerpt becomes template keys, used by attribution
    (matching), the Neo4j load and the bulk import (``POINTS_TO``). An excerpt shorter than a
    shingle is one key of its whole text. ``shingles`` counts the excerpt's distinct keys.
    """
    n = int(config.shingle_size)
    grams = (f"list_distinct(CASE WHEN array_length(w) < {n} THEN [array_to_string(w, ' ')] "
             f"ELSE list_transform(range(1, array_length(w) - {n} + 2), lambda i: {_gram_text('w', n, 'i')}) END)")
    return f"""
        SELECT operator, kind, value, {template_key('t')} AS entity, array_length(g) AS shingles
        FROM (SELECT operator, kind, value, g, unnest(g) AS t
              FROM (SELECT operator, kind, value, {grams} AS g
                    FROM (SELECT *, {words_expr('value')} AS w FROM {source} WHERE kind = 'prompt')))
    """


FAMILY = register(Family(
    name="prompt", operation_ties=True, label="template n-gram", sql=sql, prepare=prepare,
    defaults=FamilyParams(weight=1.0, cap=300, min_shared=3, combine="mean", min_exclusivity=0.3, share_k=3),
    share_feature="template_share",
    template=True, marks=True, intel_kind="prompt", writes=("shingle_texts", "acct_topics", "prompt_words"),
    node=GraphNode("PromptTemplate", "shingle_id", "REUSED", counter="count", details=("text",),
                   details_sql="SELECT entity, min(text) AS text FROM shingle_texts GROUP BY entity"),
    colour="#CC79A7",
))
