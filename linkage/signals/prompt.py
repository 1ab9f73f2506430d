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
from one account per shingle, not by reading the prompts again.
"""

FAMILY = "prompt"


def words_expr(text: str) -> str:
    """Lower-cased words split at anything not a letter or digit; the same rule for prompts and intel.

    Leading or trailing punctuation leaves an empty word at that end; it is kept (one split, no
    clean-up pass over millions of prompts) and is the same for every prompt of a template.
    """
    return f"regexp_split_to_array(lower({text}), '[^\\pL\\pN]+')"


def _gram_hash(words: str, n: int, i: str) -> str:
    return f"hash({', '.join(f'{words}[{i} + {k}]' for k in range(n))})"


def shingles_expr(words: str, n: int) -> str:
    """Distinct hashed word n-grams of a word list (the whole list, as one, when shorter than n)."""
    return (
        f"list_distinct(CASE WHEN len({words}) < {n} THEN [hash(array_to_string({words}, ' '))] "
        f"ELSE list_transform(range(1, len({words}) - {n} + 2), lambda i: {_gram_hash(words, n, 'i')}) END)"
    )


def shingle_text_expr(words: str, n: int) -> str:
    """``[{h, text}]`` for every n-gram of a word list: the readable side of ``shingles_expr``."""
    return (
        f"list_transform(range(1, len({words}) - {n} + 2), lambda i: "
        f"{{'h': {_gram_hash(words, n, 'i')}, 'text': array_to_string({words}[i:i + {n} - 1], ' ')}})"
    )


def sampled_prompts_sql(config, accounts: str | None = None, min_prompts: int = 1) -> str:
    """``(aid, prompt)``: per account, its ``prompts_per_account`` distinct prompts of smallest hash.

    ``accounts`` optionally restricts to ``aid IN (accounts)``; accounts with fewer
    than ``min_prompts`` distinct prompts are left out.
    """
    only = f"AND aid IN ({accounts})" if accounts else ""
    return f"""
        WITH d AS (SELECT DISTINCT aid, hash(prompt) AS h FROM events WHERE prompt IS NOT NULL {only}),
        pick AS (
            SELECT aid, h FROM d
            QUALIFY row_number() OVER (PARTITION BY aid ORDER BY h) <= {int(config.prompts_per_account)}
                AND count(*) OVER (PARTITION BY aid) >= {int(min_prompts)}
        )
        SELECT e.aid, min(e.prompt) AS prompt
        FROM events e JOIN pick p ON p.aid = e.aid AND p.h = hash(e.prompt)
        WHERE e.prompt IS NOT NULL
        GROUP BY e.aid, p.h
    """


def prepare(con, config) -> None:
    """``prompt_words(aid, w)``: the word lists of the sampled prompts that can hold a template."""
    n = int(config.shingle_size)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE prompt_words AS
            SELECT aid, w FROM (
                SELECT aid, {words_expr('prompt')} AS w
                FROM ({sampled_prompts_sql(config, min_prompts=config.template_min_prompts)})
            ) WHERE len(w) >= {n}"""
    )


def sql(config) -> str:
    """Shingles in at least ``template_min_prompts`` distinct prompts of the account.

    Each prompt's shingles are not de-duplicated first (that costs more than the rest of
    the shingling); the prompt's ``rowid`` tells repeats within one prompt from recurrence
    across prompts, and ``requests`` counts occurrences.
    """
    n, m = int(config.shingle_size), int(config.template_min_prompts)
    grams = f"list_transform(range(1, len(w) - {n} + 2), lambda i: {_gram_hash('w', n, 'i')})"
    recurs = "min(pid) < max(pid)" if m == 2 else f"count(DISTINCT pid) >= {m}"  # the same test; min/max is cheap
    return f"""
        SELECT aid, printf('%016x', h) AS entity, count(*) AS requests,
               CAST(NULL AS TIMESTAMPTZ) AS first, CAST(NULL AS TIMESTAMPTZ) AS last
        FROM (SELECT aid, rowid AS pid, unnest({grams}) AS h FROM prompt_words)
        GROUP BY aid, h
        HAVING {recurs}
    """


def shingle_texts_sql(config) -> str:
    """Readable text of each template shingle kept in ``entities`` (for evidence and the graph).

    One account per kept shingle (its smallest ``aid``) is enough to read the words back.
    """
    n = int(config.shingle_size)
    return f"""
        WITH kept AS (SELECT entity FROM entities WHERE family = 'prompt' AND pair_weight > 0),
        readers AS (
            SELECT min(aid) AS aid FROM incidence
            WHERE family = 'prompt' AND entity IN (SELECT entity FROM kept) GROUP BY entity
        ),
        grams AS (
            SELECT unnest({shingle_text_expr('w', n)}) AS g
            FROM prompt_words WHERE aid IN (SELECT aid FROM readers)
        )
        SELECT DISTINCT printf('%016x', g.h) AS entity, g.text FROM grams
        WHERE printf('%016x', g.h) IN (SELECT entity FROM kept)
    """
