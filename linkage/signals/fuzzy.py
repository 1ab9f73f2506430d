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
from ..families import Family, FamilyParams, GraphNode, register


def prepare(con: DuckDBPyConnection, config: Config) -> None:
    """``fuzzy_bands(aid, pid, entity)``: the bands of each sampled prompt (reads ``prompt_words``)."""
    k, r, w = int(config.fuzzy_buckets), int(config.fuzzy_rows), int(config.fuzzy_min_word)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fuzzy_bands AS
            WITH words AS (
                SELECT aid, pid, word, md5_number_lower(word) AS hv FROM (
                    SELECT aid, rowid AS pid, unnest(list_distinct(list_filter(w, lambda x: len(x) >= {w}))) AS word
                    FROM prompt_words)
            ),
            mins AS (SELECT aid, pid, hv % {k} AS bucket, arg_min(word, hv // {k}) AS word FROM words GROUP BY ALL)
            SELECT aid, pid, 'b' || CAST(bucket // {r} AS VARCHAR) || ': ' || string_agg(word, ' ' ORDER BY bucket)
                   AS entity
            FROM mins GROUP BY aid, pid, bucket // {r} HAVING count(*) = {r}"""
    )


def sql(config: Config) -> str:
    """Bands recurring in ``template_min_prompts`` of an account's prompts, kept when two accounts use them."""
    m = int(config.template_min_prompts)
    return f"""
        SELECT aid, entity, requests, CAST(NULL AS TIMESTAMPTZ) AS first, CAST(NULL AS TIMESTAMPTZ) AS last FROM (
            SELECT aid, entity, count(*) AS requests, count(*) OVER (PARTITION BY entity) AS users
            FROM fuzzy_bands GROUP BY aid, entity HAVING count(DISTINCT pid) >= {m}
        ) WHERE users >= 2
    """


FAMILY = register(Family(
    name="fuzzy", label="paraphrased template", sql=sql, prepare=prepare, reads=("prompt_words",),
    defaults=FamilyParams(weight=0.0, cap=300, min_shared=2, combine="mean", min_exclusivity=0.3),
    template=True, operation_ties=True,
    node=GraphNode("FuzzyTemplate", "band", "PARAPHRASED", counter="count"), colour="#B07AA1",
))
