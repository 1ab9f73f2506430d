"""Prompt n-gram reuse: a harvesting harness fills the slots of a few templates.

Each account's prompts (a deterministic sample of at most
``prompts_per_account`` distinct ones) are cut into hashed word n-grams
(shingles). A shingle that recurs in at least ``template_min_prompts`` of the
account's own prompts is part of a template it uses: slot-filled variations keep
the template's fixed words, so they still share shingles, while one-off
phrasing does not. Rarity weighting in ``common`` then makes a public template
used by thousands, or a common phrase, carry nothing.
"""

FAMILY = "prompt"


def words_expr(text: str) -> str:
    """Lower-cased words, punctuation dropped; the same rule for prompts and intel excerpts."""
    return f"string_split(trim(regexp_replace(lower({text}), '[^\\pL\\pN]+', ' ', 'g')), ' ')"


def shingles_expr(words: str, n: int) -> str:
    """Distinct hashed word n-grams of a word list (the whole list when shorter than n)."""
    return (
        f"list_distinct(CASE WHEN len({words}) < {n} THEN [hash(array_to_string({words}, ' '))] "
        f"ELSE list_transform(range(1, len({words}) - {n} + 2), "
        f"lambda i: hash(array_to_string({words}[i:i + {n} - 1], ' '))) END)"
    )


def sampled_prompts_sql(config) -> str:
    return f"""
        SELECT aid, prompt FROM (SELECT DISTINCT aid, prompt FROM events WHERE prompt IS NOT NULL)
        QUALIFY row_number() OVER (PARTITION BY aid ORDER BY hash(prompt), prompt) <= {int(config.prompts_per_account)}
    """


def sql(config) -> str:
    n = int(config.shingle_size)
    return f"""
        SELECT aid, printf('%016x', h) AS entity, count(*) AS requests,
               CAST(NULL AS TIMESTAMPTZ) AS first, CAST(NULL AS TIMESTAMPTZ) AS last
        FROM (
            SELECT aid, unnest({shingles_expr('w', n)}) AS h
            FROM (SELECT aid, {words_expr('prompt')} AS w FROM ({sampled_prompts_sql(config)}))
            WHERE len(w) >= {n}
        )
        GROUP BY aid, h
        HAVING count(*) >= {int(config.template_min_prompts)}
    """


def shingle_texts_sql(config) -> str:
    """Readable text of each template shingle kept in ``entities`` (for evidence and the graph)."""
    n = int(config.shingle_size)
    return f"""
        WITH kept AS (SELECT entity FROM entities WHERE family = 'prompt' AND pair_weight > 0),
        cand AS (
            SELECT aid, w FROM (SELECT aid, {words_expr('prompt')} AS w FROM ({sampled_prompts_sql(config)}))
            WHERE len(w) >= {n} AND aid IN (SELECT aid FROM incidence WHERE family = 'prompt'
                                            AND entity IN (SELECT entity FROM kept))
        ),
        grams AS (
            SELECT unnest(list_transform(range(1, len(w) - {n} + 2), lambda i: array_to_string(w[i:i + {n} - 1], ' '))) AS text
            FROM cand
        )
        SELECT DISTINCT printf('%016x', hash(text)) AS entity, text FROM grams
        WHERE printf('%016x', hash(text)) IN (SELECT entity FROM kept)
    """
