"""Paraphrase-robust templates: word-set MinHash bands over each account's sampled prompts.

Exact word 4-grams (``prompt``) find a template as long as its fixed words stay in
order; an operator who rewords every prompt (synonyms, dropped and inserted words,
reordered clauses) leaves few 4-grams intact, but the *set* of content words of
two paraphrases still overlaps well. Each sampled prompt's distinct words of at
least ``fuzzy_min_word`` letters are hashed once into ``fuzzy_buckets`` buckets
(one-permutation MinHash: the smallest hash per bucket), and ``fuzzy_rows``
consecutive buckets form a band; two prompts share a band with probability about
``J ** fuzzy_rows`` for word-set Jaccard ``J``. A band is named by its words
(``b3: cache eviction``), so keys are readable and stable (the word hash is
``md5``). As with n-grams, a band counts as an account's template when it recurs
in ``template_min_prompts`` of its prompts, and only bands two accounts or more
use are kept.

The family links no one by default (weight 0): it ties an operation's rings
through their shared template (``linkage.operations``) and counts as template
evidence in scoring, where it and the exact n-grams are one piece of evidence.
Everything is relational: one hash per word occurrence, a group-by per bucket.
"""

from duckdb import DuckDBPyConnection

from ..config import Config
from ..families import Family, FamilyParams, GraphNode, marks_sql, register


def _words(w: int) -> str:
    """``(aid, pid, idx, word)``: every word of at least ``w`` letters of each sampled prompt (repeats kept:
    the minimum per bucket is the same with or without them, and dropping them costs a pass)."""
    return (f"SELECT aid, pid, idx, word FROM (SELECT aid, rowid AS pid, idx, unnest(w) AS word FROM prompt_words) "
            f"WHERE length(word) >= {w}")


def prepare(con: DuckDBPyConnection, config: Config) -> None:
    """Stage ``fuzzy_words(hv, word)`` and ``fuzzy_bands(aid, pid, idx, band, key)`` (reads ``prompt_words``).

    The costly part at scale is hashing: a word is hashed once per distinct word of the batch
    (``fuzzy_words``), not once per occurrence. A bucket's MinHash is then the least hash among the
    prompt's words in it (a word's bucket is its hash modulo the bucket count, so the least hash is
    the least key), and a band is named inside the run by an XOR of its buckets' hashes (each bucket
    holds one word, so the XOR stands for the word set); only bands that survive ``sql`` are given
    their readable text.
    """
    k, r, w = int(config.fuzzy_buckets), int(config.fuzzy_rows), int(config.fuzzy_min_word)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fuzzy_words AS
            SELECT word, md5_number_lower(word) AS hv FROM (SELECT DISTINCT word FROM ({_words(w)}))"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fuzzy_bands AS
            SELECT aid, pid, idx, (hv % {k}) // {r} AS band, bit_xor(hv) AS key FROM (
                SELECT x.aid, x.pid, x.idx, min(v.hv) AS hv FROM ({_words(w)}) x JOIN fuzzy_words v USING (word)
                GROUP BY x.aid, x.pid, x.idx, v.hv % {k}
            ) GROUP BY aid, pid, idx, (hv % {k}) // {r} HAVING count(*) = {r}"""
    )


def sql(config: Config) -> str:
    """Bands recurring in ``template_min_prompts`` of an account's prompts, kept when two accounts use them.

    A kept band's text (``b3: cache eviction``: its buckets' words in bucket order) is read back from
    one prompt holding it. ``marks`` names the prompts holding it (``families.marks_sql``).
    """
    k, r, w, m = (int(config.fuzzy_buckets), int(config.fuzzy_rows), int(config.fuzzy_min_word),
                  int(config.template_min_prompts))
    return f"""
        WITH kept AS (
            SELECT aid, band, key, requests, pid, marks FROM (
                SELECT aid, band, key, count(*) AS requests, min(pid) AS pid, bit_or({marks_sql('idx')}) AS marks,
                       count(*) OVER (PARTITION BY band, key) AS users
                FROM fuzzy_bands GROUP BY aid, band, key HAVING count(DISTINCT pid) >= {m}
            ) WHERE users >= 2
        ),
        one AS (SELECT band, key, min({{'aid': aid, 'pid': pid}}) AS pick FROM kept GROUP BY band, key),
        mins AS (
            SELECT x.aid, x.pid, min(v.hv) AS hv FROM ({_words(w)}) x JOIN fuzzy_words v USING (word)
            WHERE x.pid IN (SELECT o.pick.pid FROM one o) GROUP BY x.aid, x.pid, v.hv % {k}
        ),
        texts AS (
            SELECT o.band, o.key, 'b' || CAST(o.band AS VARCHAR) || ': ' || string_agg(v.word, ' ' ORDER BY m.hv % {k})
                   AS entity
            FROM one o JOIN mins m ON m.aid = o.pick.aid AND m.pid = o.pick.pid AND (m.hv % {k}) // {r} = o.band
            JOIN fuzzy_words v ON v.hv = m.hv
            GROUP BY o.band, o.key
        )
        SELECT k.aid, t.entity, k.requests, CAST(NULL AS TIMESTAMPTZ) AS first, CAST(NULL AS TIMESTAMPTZ) AS last,
               k.marks
        FROM kept k JOIN texts t USING (band, key)
    """


FAMILY = register(Family(
    name="fuzzy", label="paraphrased template", sql=sql, prepare=prepare, reads=("prompt_words",),
    defaults=FamilyParams(weight=0.0, cap=300, min_shared=2, combine="mean", min_exclusivity=0.3),
    template=True, marks=True, operation_ties=True,
    node=GraphNode("FuzzyTemplate", "band", "PARAPHRASED", counter="count"), colour="#B07AA1",
))
