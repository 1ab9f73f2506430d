"""The two evidence tables the report needs that no other stage keeps: daily volume and prompt topics.

Both are computed in SQL from ``events``, for flagged ring members only (the
``members_out(aid, …)`` relation that ``write_outputs`` registers), so they
stay small on a 50M-request batch: a few rows per member per day, three per
member for topics.

``prompt_topics`` is a keyword classifier, explainable by reading it: each
sampled prompt (the same deterministic sample the prompt signal uses, distinct
prompts, at most ``prompts_per_account`` per account) counts its whole-word
matches against a coding list and an agentic list; the larger count wins, a
tie goes to coding, no match at all is ``other``. "step by step" is a request
for reasoning, not for an agent, and is dropped before matching.
"""

from __future__ import annotations

from ..signals.prompt import sampled_prompts_sql

CODING_WORDS = (
    "code", "coding", "codebase", "function", "functions", "method", "class", "python", "typescript",
    "javascript", "java", "rust", "golang", "kotlin", "swift", "ruby", "scala", "sql", "bug", "bugs", "debug",
    "refactor", "compile", "compiler", "implement", "implementation", "algorithm", "regex", "script", "snippet",
    "unit tests?", "tests", "stack trace", "exception", "api", "docstrings?", "type hints", "programming",
)
AGENTIC_WORDS = (
    "agent", "agents", "agentic", "autonomous", "plan", "planning", "tool", "tools", "tool calls?", "steps?",
    "execute", "execution", "browse", "browser", "terminal", "shell", "commands?", "workflow", "multi-step",
    "navigate", "click", "deploy", "orchestrate", "objective",
)
TOPICS = ("coding", "agentic", "other")


def _words_regex(words: tuple[str, ...]) -> str:
    return r"\b(" + "|".join(words) + r")\b"


def daily_sql() -> str:
    """``(aid, day, requests)``: requests per member per UTC day."""
    return """
        SELECT aid, CAST(ts AT TIME ZONE 'UTC' AS DATE) AS day, count(*) AS requests
        FROM events WHERE aid IN (SELECT aid FROM members_out)
        GROUP BY ALL ORDER BY aid, day
    """


def prompt_topics_sql(config) -> str:
    """``(aid, topic, prompts)``: how many of a member's sampled prompts fall in each topic."""
    text = r"regexp_replace(lower(prompt), 'step[- ]by[- ]step', ' ', 'g')"
    return f"""
        WITH sample AS ({sampled_prompts_sql(config, accounts="SELECT aid FROM members_out")}),
        hits AS (
            SELECT aid, len(regexp_extract_all({text}, '{_words_regex(CODING_WORDS)}')) AS c,
                        len(regexp_extract_all({text}, '{_words_regex(AGENTIC_WORDS)}')) AS g
            FROM sample
        )
        SELECT aid, CASE WHEN g > c THEN 'agentic' WHEN c > 0 THEN 'coding' ELSE 'other' END AS topic,
               count(*) AS prompts
        FROM hits GROUP BY ALL ORDER BY aid, topic
    """


def ring_tables(config) -> dict[str, str]:
    """``{evidence table name: query}`` for the report's extra tables; needs ``events`` and ``members_out``."""
    return {"daily": daily_sql(), "prompt_topics": prompt_topics_sql(config)}
