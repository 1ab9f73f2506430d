"""The two evidence tables the report needs that no other stage keeps: daily volume and prompt topics.

Both are computed in SQL from ``events``, for flagged ring members only (the
``members_out(aid, …)`` relation that ``write_outputs`` registers), so they
stay small on a 50M-request batch: a few rows per member per day, three per
member for topics.

``prompt_topics`` classifies each sampled prompt (the same deterministic sample
the prompt signal uses, distinct prompts, at most ``prompts_per_account`` per
account) with the keyword classifier of ``linkage.topics``.
"""

from __future__ import annotations

from ..config import Config
from ..signals.prompt import sampled_prompts_sql
from ..topics import topic_sql


def daily_sql() -> str:
    """``(aid, day, requests)``: requests per member per UTC day."""
    return """
        SELECT aid, CAST(ts AT TIME ZONE 'UTC' AS DATE) AS day, count(*) AS requests
        FROM events WHERE aid IN (SELECT aid FROM members_out)
        GROUP BY ALL ORDER BY aid, day
    """


def prompt_topics_sql(config: Config) -> str:
    """``(aid, topic, prompts)``: how many of a member's sampled prompts fall in each topic (``linkage.topics``)."""
    return f"""
        WITH sample AS ({sampled_prompts_sql(config, accounts="SELECT aid FROM members_out")})
        SELECT aid, {topic_sql('prompt')} AS topic, count(*) AS prompts
        FROM sample GROUP BY ALL ORDER BY aid, topic
    """


def ring_tables(config: Config) -> dict[str, str]:
    """``{evidence table name: query}`` for the report's extra tables; needs ``events`` and ``members_out``."""
    return {"daily": daily_sql(), "prompt_topics": prompt_topics_sql(config)}
