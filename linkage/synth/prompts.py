"""Prompt text: benign grammars, operator templates, and a vectorised slot filler.

Operators fill the slots of a few fixed templates, so their prompts share long
runs of fixed words (word 4-grams) across a ring; benign users write short,
varied text from broad grammars with their own words appended, so any phrase
they share is shared by thousands (a hub, not evidence). Traps sit in between:
a public template used by hundreds of strangers, company-internal templates,
and class assignments pasted by a whole class.

Rendering is per template, never per prompt: each slot is one numpy draw and
each template one chain of object-array concatenations.
"""

from __future__ import annotations

import string

import numpy as np

from .vocab import PUBLIC_TEMPLATE, WORDS


def _arr(text: str, sep: str = "|") -> np.ndarray:
    return np.array([s.strip() for s in text.split(sep) if s.strip()], dtype=object)


SLOTS: dict[str, np.ndarray] = {
    "lang": _arr("Python|TypeScript|Rust|Go|Java|C++|Kotlin|Swift|C#|Ruby|Scala|JavaScript"),
    "task": _arr("""implement an LRU cache with O(1) get and put|parse a CSV file with quoted fields and escaped newlines|
        write a thread-safe rate limiter using a token bucket|merge overlapping intervals in a list|
        build a trie that supports prefix search and deletion|find the longest palindromic substring|
        implement Dijkstra's shortest path with a binary heap|serialize and deserialize a binary tree|
        write a JSON schema validator for nested objects|detect a cycle in a directed graph|
        implement a consistent hashing ring with virtual nodes|write an async web crawler with a concurrency limit|
        compute the edit distance between two strings|implement a bloom filter with tunable false positive rate|
        write a SQL query planner for simple joins|build a Markdown to HTML converter|
        implement a B-tree with insertion and range queries|write a retry decorator with exponential backoff and jitter|
        implement a min-heap without using the standard library|solve the N-queens problem for any n|
        write a tokenizer for arithmetic expressions and evaluate them|implement a skip list|
        design a key-value store with write-ahead logging|write a diff algorithm for two text files|
        implement the Raft leader election loop|build a regex engine supporting star, plus and alternation"""),
    "constraint": _arr("""no external libraries|O(n log n) time or better|handle inputs up to 10^6 elements|
        include type annotations everywhere|must be fully thread-safe|use only the standard library|
        keep memory usage under 64 MB|all functions must be pure|include docstrings for every public function|
        handle malformed input gracefully"""),
    "agent_goal": _arr("""fix the failing integration tests|migrate the build from Makefile to CMake|
        add pagination to the REST API|upgrade the ORM to the latest major version and fix breakages|
        find and patch the memory leak in the worker pool|add OAuth2 login to the web app|
        set up CI that runs lint, tests and a coverage gate|refactor the payment module into services|
        add structured logging across all services|reduce the cold-start time of the CLI by half|
        write a data pipeline that deduplicates customer records|containerise the app and write a Helm chart|
        profile the slow endpoint and add caching|implement feature flags with gradual rollout"""),
    "objective": _arr("""deploy the staging stack and confirm the health checks pass|
        rotate the database credentials without downtime|scrape the product catalogue into a CSV file|
        bisect the commit that broke the nightly build|set up log shipping from every node to one bucket|
        migrate the cron jobs to a workflow scheduler|audit the open ports on the build servers|
        benchmark the three candidate queue libraries and pick one|recover the corrupted SQLite file|
        patch the vulnerable dependency across all repositories|load-test the checkout endpoint to 500 rps|
        convert the legacy shell scripts into a Python package|backfill the missing metrics for last week"""),
    "howto_dev": _arr("""set up JWT authentication in an Express app|stream large files to S3 without running out of memory|
        debounce a search box in React|write a Dockerfile that builds a small Go image|
        paginate a GraphQL API with cursors|add full-text search to a Postgres table|
        run database migrations safely during a deploy|cache expensive API calls with Redis|
        structure a monorepo with shared TypeScript types|write a GitHub Action that publishes a package|
        validate form input on both client and server|schedule background jobs with retries|
        profile a slow Django view|handle timezones correctly in a booking system|
        build a websocket chat server|implement optimistic locking in an ORM"""),
    "problem": _arr("""how many ways can 8 rooks be placed on a chessboard so none attack each other|
        find all integer solutions of x^2 - y^2 = 2024|what is the expected number of coin flips to get two heads in a row|
        prove that there are infinitely many primes of the form 4k+3|
        a train leaves at 3pm at 80 km/h and another at 4pm at 100 km/h; when does the second catch up|
        what is the probability that three random points on a circle form an acute triangle|
        compute the sum of the digits of 2^100|how many trailing zeros does 1000 factorial have|
        find the minimum number of weighings to identify a fake coin among 12|
        what is the remainder when 7^2026 is divided by 13"""),
    "env": _arr("""Ubuntu 22.04 with Docker|macOS with Homebrew|a Kubernetes cluster with kubectl access|
        a fresh Debian VM|a monorepo with pnpm workspaces|a Python 3.11 virtualenv|a Windows Server 2022 host"""),
    "topic": _arr("""graph algorithms|dynamic programming|concurrency bugs|database indexing|REST API design|
        compiler construction|probability puzzles|number theory|operating system scheduling|
        distributed consensus|string algorithms|geometry|unit testing strategies|memory management|
        cryptography basics|linear algebra|network protocols|functional programming"""),
    "n": _arr("10|20|25|30|50"),
    "howto": _arr("""get rid of fruit flies in the kitchen|fix a leaking tap|ask for a raise|improve my credit score|
        start running without hurting my knees|learn Spanish faster|make sourdough starter|negotiate rent|
        clean a cast iron pan|write a cover letter|fall asleep faster|set up a budget spreadsheet|
        stop procrastinating|grow tomatoes on a balcony|prepare for a job interview|back up my phone|
        change a bike tyre|remove a wine stain|cook rice without a rice cooker|reset my router"""),
    "doc": _arr("an email|a short note|a formal letter|a text message|a LinkedIn post|a complaint"),
    "recipient": _arr("my landlord|my boss|a client|my team|my teacher|customer service|my neighbour"),
    "subject": _arr("""a late payment|my vacation plans|a broken heater|a project delay|a birthday party|
        the quarterly results|a refund request|a new product launch|my daughter's school trip|a job offer"""),
    "concept": _arr("""inflation|photosynthesis|blockchain|quantum computing|compound interest|black holes|
        machine learning|the stock market|vaccines|climate change|the electoral college|recursion|
        supply and demand|the immune system|GDP|interest rates|nuclear fusion|DNA"""),
    "level": _arr("five|a high school student|a complete beginner|an expert|my grandmother"),
    "days": _arr("2|3|4|5|7|10"),
    "city": _arr("""Lisbon|Tokyo|Mexico City|Rome|Seoul|New York|Barcelona|Bangkok|Paris|Kyoto|Istanbul|
        Cape Town|Prague|Vancouver|Manila|Berlin|Buenos Aires|Sydney|Marrakech|Hanoi"""),
    "language": _arr("Spanish|French|German|Japanese|Portuguese|Korean|Italian|Hindi|Chinese|Tagalog|Polish"),
    "ingredient": _arr("""chicken|rice|spinach|chickpeas|tofu|salmon|potatoes|eggs|mushrooms|lentils|
        broccoli|pasta|beef|tomatoes|feta|coconut milk|sweet potato|zucchini"""),
    "tone": _arr("professional|friendly|confident|polite|casual|persuasive|concise"),
    "poemkind": _arr("short poem|haiku|limerick|song verse|toast"),
    "goal": _arr("losing weight|building muscle|a first 10k|better flexibility|a busy schedule"),
    "event": _arr("a surprise party|a team offsite|a wedding budget|a move to a new city|a weekend hike"),
    "error": _arr("""TypeError|KeyError|a segfault|NullPointerException|an index out of range error|
        a deadlock|ECONNRESET|a borrow checker error|undefined is not a function|a 502 from the gateway"""),
    "devtask": _arr("""reads a YAML config and validates it|paginates through an API and saves the results|
        resizes images in a folder|retries failed HTTP calls|parses log files for errors|
        streams rows from Postgres to S3|debounces user input|sends a Slack alert on failure|
        caches responses in Redis|watches a directory for changes"""),
}
SLOTS["concept2"] = SLOTS["concept"]
SLOTS["ingredient2"] = SLOTS["ingredient3"] = SLOTS["ingredient"]
SLOTS["lang2"] = SLOTS["lang"]

GENERAL = [
    "How do I {howto}?", "What are some tips to {howto}? {tail}", "Can you help me write {doc} to {recipient} about {subject}?",
    "Explain {concept} like I'm {level}.", "What's the difference between {concept} and {concept2}?",
    "Give me a {days}-day itinerary for {city}.", "Summarize this for me: {tail}", "Translate into {language}: {tail}",
    "Suggest a recipe with {ingredient}, {ingredient2} and {ingredient3}.", "Rewrite this to sound more {tone}: {tail}",
    "{tail}", "{tail}?", "Write a {poemkind} about {subject}.", "I need ideas for {event}. {tail}",
    "Fix the grammar: {tail}", "Make a workout plan for {goal}.", "Draft a reply to this: {tail}",
    "is it true that {concept} {tail}", "{concept} {tail}",
]
CODING = [
    "Why does my {lang} code throw {error} here? {code}", "Refactor this {lang} function: {code}",
    "Write a {lang} script that {devtask}.", "Explain this stack trace: {error} in {ident} {tail}",
    "Convert this {lang} snippet to {lang2}: {code}", "What's the idiomatic way to write something that {devtask} in {lang}?",
    "Add type hints and docstrings: {code}", "Write unit tests for {ident}: {code}", "{code}", "{lang} {ident} {tail}",
    # popular tasks everyone asks about: the phrases operators also use are common, not evidence
    "{task} in {lang}", "how to {howto_dev}", "best way to {howto_dev}? {tail}", "I need to {objective}. {tail}",
    "help: {agent_goal}", "{problem}", "{task}? {tail}",
]
PUBLIC = [PUBLIC_TEMPLATE + "{code}"]

#: operator templates (each ring favours one variant); exact codenames are in operators.py
OPERATOR_TEMPLATES: dict[str, list[str]] = {
    "CRIMSON-LATHE": [
        "You are an expert {lang} engineer. Solve the task below step by step. Think through the edge cases first, "
        "then write the complete implementation in one code block followed by unit tests. Task: {task}. "
        "Constraints: {constraint}. Output format: reasoning, then code, then tests. [job {jobid}]",
        "You are an autonomous coding agent with shell and file-system access. Plan the steps, call the tools you "
        "need, and report every tool call with its arguments and its result. Goal: {agent_goal} in a {lang} "
        "repository. Constraints: {constraint}. Finish with a unified diff of all changes. [job {jobid}]",
        "You are a world-class {lang} engineer. Solve the task below step by step. Think through all edge cases "
        "first, then write the full implementation in a single code block followed by unit tests. Task: {task}. "
        "Constraint: {constraint}. Output format: reasoning, code, tests. [job {jobid}]",
    ],
    "VELVET-MONSOON": [
        "Act as an AI agent operating a browser and a terminal. For the objective below, write a numbered plan, "
        "then execute each step and show the exact commands, the observed output and your next decision. "
        "Objective: {objective}. Environment: {env}. Stop only when the objective is verified.",
        "Act as an AI agent operating a terminal. For the objective below, write a numbered plan, then carry out "
        "each step showing the exact command, the observed output and your next decision. Objective: {objective}. "
        "Environment: {env}. Verify the result before you stop.",
        "Act as an AI agent with tool access. Write a numbered plan for the objective below, then execute each step "
        "and show the exact tool call, the observed output and your next decision. Objective: {objective}. "
        "Environment: {env}.",
    ],
    "GLASS-HERON": [
        "Could you walk me through how to {howto_dev} in {lang}? Please explain your reasoning step by step and include "
        "the final code with tests.",
        "I'd like to understand how to {howto_dev} using {lang}. Explain your reasoning step by step, then give me the "
        "final code and a few tests.",
        "What's the cleanest way to {howto_dev} in {lang}? Lay out your reasoning step by step and finish with the final "
        "code with tests.",
        "Help me {howto_dev} in {lang}. Walk me through your reasoning step by step and include the final code and tests "
        "at the end.",
    ],
    "COPPER-TIDE": [
        "Generate {n} diverse, high-quality question and answer pairs about {topic} for a training dataset. Each "
        "answer must include detailed step-by-step reasoning before the final answer. Return JSON lines with the "
        "fields question, reasoning and answer.",
        "Generate {n} challenging {lang} coding problems about {topic}, each with a reference solution, a "
        "step-by-step explanation and test cases. Return JSON lines with the fields problem, solution, explanation.",
        "Solve the following problem and show your complete chain of thought, then restate the final answer on its "
        "own line prefixed with ANSWER. Problem: {problem}.",
    ],
}


def compile_template(text: str) -> list[tuple[str, str | None]]:
    """Split ``"a {x} b"`` into ``[("a ", "x"), (" b", None)]`` once, so filling is pure array work."""
    return [(lit, field) for lit, field, _, _ in string.Formatter().parse(text)]


def words(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    """``n`` strings of ``lo..hi`` uniformly drawn words: a user's own content, too varied to share 4-grams."""
    k = rng.integers(lo, hi + 1, size=n)
    idx = rng.integers(len(WORDS), size=(n, hi))
    out = WORDS[idx[:, 0]].copy()
    for j in range(1, hi):
        live = k > j
        out[live] = out[live] + " " + WORDS[idx[live, j]]
    return out


def _ident(rng, n):
    return WORDS[rng.integers(len(WORDS), size=n)] + "_" + WORDS[rng.integers(len(WORDS), size=n)]


def _code(rng, n):
    return ("def " + _ident(rng, n) + "(" + WORDS[rng.integers(len(WORDS), size=n)] + "): "
            + words(rng, n, 3, 12) + " return " + _ident(rng, n))


def slot(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if name == "tail":
        return words(rng, n, 4, 16)
    if name == "code":
        return _code(rng, n)
    if name == "ident":
        return _ident(rng, n)
    if name == "jobid":
        return rng.integers(100000, 999999, size=n).astype(str).astype(object)
    vocab = SLOTS[name]
    return vocab[rng.integers(len(vocab), size=n)]


def fill(parts: list[tuple[str, str | None]], n: int, rng: np.random.Generator) -> np.ndarray:
    """Render ``n`` prompts of one compiled template."""
    out = np.full(n, "", dtype=object)
    for lit, field in parts:
        if lit:
            out = out + lit
        if field is not None:
            out = out + slot(field, n, rng)
    return out


def fill_choice(templates: list[list], choice: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Render one prompt per entry of ``choice`` (index into ``templates``); a loop per template."""
    out = np.empty(len(choice), dtype=object)
    for t in np.unique(choice):
        sel = np.flatnonzero(choice == t)
        out[sel] = fill(templates[t], len(sel), rng)
    return out


COMPILED = {
    "general": [compile_template(t) for t in GENERAL],
    "coding": [compile_template(t) for t in CODING],
    "public": [compile_template(t) for t in PUBLIC],
    **{op: [compile_template(t) for t in ts] for op, ts in OPERATOR_TEMPLATES.items()},
}

ORG_TEMPLATES = [
    "[{org} support] Summarize the following customer ticket, classify its priority from P1 to P4 and draft a "
    "polite first response: ",
    "[{org} internal] Turn these meeting notes into action items with owners and due dates, using the {org} "
    "project template: ",
    "[{org} eng] Review this pull request description against the {org} coding standards and list blocking issues: ",
    "{org} sales assistant: write a follow-up email to the prospect below in the {org} tone of voice. Notes: ",
]
