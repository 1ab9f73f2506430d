"""What a prompt asks for: a keyword classifier, explainable by reading it.

The reported distillation campaign sent templated prompts aimed at coding and
agentic tasks, so the share of an account's prompts that ask for code or for an
agent's work is evidence of harvesting (never of coordination: it links no one).
A prompt counts its whole-word matches against a coding list and an agentic
list; the larger count wins, a tie goes to coding, no match at all is ``other``.
"step by step" asks for reasoning, not for an agent, and is dropped before
matching. The report's topic panel and ring scoring use this one definition.
"""

from __future__ import annotations

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


def _text(prompt: str) -> str:
    return rf"regexp_replace(lower({prompt}), 'step[- ]by[- ]step', ' ', 'g')"


def topic_sql(prompt: str) -> str:
    """SQL for the topic (``coding``, ``agentic`` or ``other``) of the prompt text ``prompt``."""
    text = _text(prompt)
    coding = f"array_length(regexp_extract_all({text}, '{_words_regex(CODING_WORDS)}'))"
    agentic = f"array_length(regexp_extract_all({text}, '{_words_regex(AGENTIC_WORDS)}'))"
    return f"CASE WHEN {agentic} > {coding} THEN 'agentic' WHEN {coding} > 0 THEN 'coding' ELSE 'other' END"


def focused_sql(prompt: str) -> str:
    """SQL for whether ``prompt`` asks for code or an agent's work (its topic is not ``other``).

    The same test as ``topic_sql(prompt) <> 'other'`` in one pattern match instead of counting
    matches of each list: scoring asks it of every sampled prompt of the batch.
    """
    return f"regexp_matches({_text(prompt)}, '{_words_regex(CODING_WORDS + AGENTIC_WORDS)}')"


__all__ = ["CODING_WORDS", "AGENTIC_WORDS", "TOPICS", "topic_sql", "focused_sql"]
