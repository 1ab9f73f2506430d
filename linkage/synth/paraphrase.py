"""Reworded templates: synonyms, dropped words, inserted filler and reordered clauses.

Operators who know that defenders match shared phrases run their templates
through a rewriter: a quarter of the words change, a filler sentence appears,
two clauses swap. Fillers come as whole sentences between clauses and, from ``filler`` 0.2 up,
as single words inside them. The result is a family of near-duplicates in which long
exact word runs (4-grams) are rare while the content, the structure and most
of the vocabulary survive. This module does that rewriting to a template set,
vectorised per template: each word position is one numpy draw over all the
prompts being rendered, never a Python loop per prompt.

``paraphrase`` is the share of the template's words that change, on average:
each word that has alternatives changes with probability
``paraphrase / coverage`` (capped at 1), where ``coverage`` is the share of
the template's words that have alternatives at all.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

import numpy as np

from .playbooks import EXTRA_SLOTS
from .prompts import slot as base_slot


def _table(text: str) -> dict[str, tuple[str, ...]]:
    out = {}
    for line in text.strip().splitlines():
        key, alts = line.split(":", 1)
        out[key.strip()] = tuple(a.strip() for a in alts.split("|"))
    return out


#: phrase -> alternatives ("" drops the word); longest phrase wins
SYNONYMS = _table("""
a careful: an experienced|a meticulous|a thorough
a senior: an experienced|a lead|a staff-level
about: on|covering|around
access: the ability to use|permission to use
act as: behave as|take the role of|play the part of|pretend to be
action: command|step|operation
add: include|write|put in
affected: shaped|influenced|changed
after: following|once you finish|at the end of
after the word: following the word|after the label
all: every one|each
and: as well as|plus|along with|and also
all changes: every change|the full set of changes|all of the edits
also: additionally|in addition|as well,
alone: by itself|on its own
and explain: and then explain|and describe|and justify
approaches: strategies|designs|solutions|options
assumption: premise|hypothesis|presumption
assumptions: premises|hypotheses|presumptions
at the end: finally|to finish|when you are done
before: prior to|ahead of
before moving on: before going further|before you proceed|before continuing
before you continue: before going further|before you proceed|before moving on
below: underneath|here
break: split|divide|decompose
bug: defect|error|flaw
build: create|make|put together
call: invoke|use|run
careful: thorough|meticulous|detailed
carefully: thoroughly|with care|rigorously|
caught: detected|flagged|found
change: edit|modification|fix
changes: edits|modifications|fixes
check: verify|confirm|validate
choose: pick|select|decide on
clear: readable|obvious|plain
clearly: explicitly|plainly|precisely
close with: end with|finish with|wrap up with
code: source|implementation|program
code block: fenced block|code section|snippet
codebase: code|repository|project
commands: shell commands|instructions|terminal commands
comments: notes|inline comments|remarks
compare: weigh|contrast|evaluate
complete: full|entire|whole|finished
corrected: fixed|repaired|updated
crashes: fails|dies|breaks
create: write|produce|make|generate
decide: choose|determine|work out
demonstrate: show|illustrate|walk me through
describe: explain|outline|lay out
developers: engineers|programmers|coders
differ: vary|be different|change
differences: contrasts|distinctions|gaps
difficulty: complexity|level|hardness
each: every|each single
editor: code editor|text editor|IDE
end with: finish with|close with|conclude with
engineer: developer|programmer|practitioner
engineering: software|developer|programming
every: each|every single|all
exact: precise|specific|literal
exactly: precisely|fully|strictly|
exercise: problem|task|challenge
exercises: problems|tasks|challenges
expect: predict|anticipate|think
expected: predicted|anticipated|intended
explain: describe|clarify|justify|spell out
explicit: clear|stated|spelled out
explicitly: clearly|openly|out loud
fails: breaks|errors out|crashes
failure: crash|fault|error
final: ultimate|last|concluding
find: identify|spot|locate|uncover
finish with: end with|close with|conclude with
first: to begin|initially|as a first step
fix: correction|patch|remedy
fixed: resolved|corrected|repaired
following: next|below|given
for each: for every|with each|per
for every: for each|with every|per
format: lay out|structure|present
fresh: new|novel|original
function: method|routine|procedure
generate: produce|create|write
give: provide|write|show|produce
go: proceed|work|move
goal: objective|aim|target
happen: occur|take place|result
happens: occurs|arises|unfolds
have: am facing|have got|need to pass
headings: titles|section headers|labels
help me: assist me to|support me to|I need help to
here is: below is|this is|I am sharing
how: in what way|the way
identify: find|pinpoint|determine
idiomatic: natural|clean|conventional|native
in a single: in one|within a single|inside one
in one: in a single|within one|inside one
in production: on our live system|in prod|in the live environment
interview: interview loop|job interview|technical interview
issue: problem|vulnerability|weakness
keep: preserve|maintain|retain
last line: final line|closing line|bottom line
list: enumerate|write down|itemise|name
make sure: ensure|be sure|see to it
make: render|keep|ensure
moving on: going further|proceeding|continuing
my: our|the
need: want|require|have
needed: required|necessary|useful
new: fresh|original|novel
next: after that|then|subsequently
next week: soon|in a few days|shortly
not obvious: unclear|non-trivial|surprising|subtle
numbered list: enumerated list|ordered list|numbered outline
objective: goal|aim|target|mission
observed: saw|got|received
obvious: clear|evident|self-explanatory
one short sentence: a single short sentence|one brief sentence|a sentence or so
one step at a time: step by step|incrementally|piece by piece
original: new|novel|fresh
output: result|response|printout
performance problem: slowness|inefficiency|performance issue
piece: bit|part|chunk
plan: strategy|approach|roadmap
planning: designing|preparing|organising
point out: highlight|flag|identify
possible: candidate|available|alternative
practising: training|studying|rehearsing
preparing: getting ready|studying|practising
print: show|display|report
problem: question|puzzle|exercise|task
production: live|deployed|prod
propose: suggest|recommend|offer
provide: give|write|supply
put: place|write|give
reached: met|achieved|complete
reason: rationale|justification|motivation
reason through: work through|think through|go through
relevant: related|pertinent|offending
rely on: depend on|use|assume
repository: repo|codebase|project
review: audit|inspect|examine|critique
rewrite: refactor|redo|rework
rigorously: carefully|precisely|properly
risks: dangers|failure modes|pitfalls
roll back: revert|undo the change|restore the old state
root cause: underlying cause|real reason|source of the problem
same: identical|unchanged|equivalent
say: state|tell me|note
security issue: vulnerability|security hole|security flaw
senior: experienced|staff-level|lead
sentence: line|phrase|remark
service: backend|app|server
shell: terminal|command line|console
short: brief|concise|quick
show: display|give|present|print
show me: tell me|explain|walk me through
single: one|lone|sole
small: little|tiny|manageable
so that: such that|in a way that|so
solution: answer|implementation|approach
solve: work out|crack|answer
solved: worked out|answered|cracked
split: break|divide|separate
state: say|write|describe|declare
step: stage|action|phase
step by step: one step at a time|in detail|stage by stage|methodically
steps: stages|actions|phases
style: approach|format|flavour
suggest: propose|recommend|give
summarise: summarize|sum up|recap|describe
talk through: walk through|discuss|go over
task: job|assignment|mission
terminal: shell|console|command line
test: check|test case|unit test
tests: checks|test cases|assertions
that: which|
the complete: the full|the entire|the whole
the exact: the precise|the specific|the literal
the final answer: the result|the final result|your answer
the following: this|the next|the below
the two languages: both languages|these two languages|the languages
the way: how|in the manner|like
the possible: the candidate|the available|the different
the real: the actual|the true|the observed
then: next|after that|afterwards|and then
think: reason|work|consider
think about: consider|look at|reason about
three: 3|a few|several
time complexity: big-O complexity|running time|asymptotic cost
to do next: to do after that|as the next step|next
trade-offs: pros and cons|tradeoffs|compromises|costs and benefits
translate: convert|port|rewrite
translation: port|conversion|rewrite
unified diff: patch|diff|unified patch
unit tests: tests|test cases|unit checks
use: employ|go with|apply
vary: differ|range|change
verify: check|confirm|validate
walk through: go through|trace|explain
what: which|the things that
when: once|as soon as|after
where: in which|at which
wherever: anywhere|every place|where
which: what|the|that
why: the reason|for what reason|how come
with: containing|having|including
work: job|project|task
worked solution: model answer|sample solution|full solution
working: operating|sitting|acting
would: might|could|will
write: produce|give|create|put
you are: act as|pretend you are|imagine you are
your: the|this
""")

#: sentences a rewriter or a user slips in between clauses
FILLERS = np.array([
    "Please be thorough.", "Thanks in advance.", "This is for a side project.", "Keep it concise.",
    "Take your time.", "I appreciate the help.", "Be precise.", "No need to repeat the question.",
    "Answer in English.", "This matters for my work.", "Assume a recent version.", "Please do not skip anything.",
    "Use clear formatting.", "Avoid unnecessary detail.", "I will read it carefully.", "Be as accurate as possible.",
], dtype=object)
#: words an aggressive rewriter (an "article spinner") slips inside clauses once ``filler`` passes 0.2
INSERTS = np.array(["really", "also", "please", "just", "carefully", "now", "basically", "actually", "quickly",
                    "fully", "simply", "clearly"], dtype=object)
_CHUNK = re.compile(r"\S+")
_TRAIL = re.compile(r"^(.*?)([.,;:?!]*)$")


@dataclass
class Unit:
    """One rendering step: a literal with its alternatives, or one ``{slot}`` (with literal text around it)."""

    text: str  # canonical text with its leading space (none at the start of a clause)
    alts: np.ndarray | None = None  # alternatives, each with the same leading space and trailing punctuation
    words: int = 0
    parts: list = field(default_factory=list)  # for slot chunks: (literal, field) pairs


@dataclass
class Template:
    """A compiled variant: clauses of units, and the share of its words that have alternatives."""

    clauses: list[list[Unit]]
    coverage: float


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def compile_clauses(clauses: list[str]) -> Template:
    """Tokenise clauses into units by longest synonym match (done once per template)."""
    out, covered, total = [], 0, 0
    longest = max(len(k.split()) for k in SYNONYMS)
    for clause in clauses:
        chunks = _CHUNK.findall(clause)
        units: list[Unit] = []
        i = 0
        while i < len(chunks):
            lead = "" if not units else " "
            if "{" in chunks[i]:
                units.append(Unit(lead + chunks[i], parts=[(lit, f) for lit, f, _, _ in
                                                           string.Formatter().parse(lead + chunks[i])]))
                i += 1
                continue
            match = None
            for k in range(min(longest, len(chunks) - i), 0, -1):
                span = chunks[i:i + k]
                if any("{" in c for c in span) or any(_TRAIL.match(c).group(2) for c in span[:-1]):
                    continue
                body, punct = _TRAIL.match(" ".join(span)).groups()
                if body.lower() in SYNONYMS:
                    match = (k, body, punct)
                    break
            if match is None:
                units.append(Unit(lead + chunks[i], words=1))
                total += 1
                i += 1
                continue
            k, body, punct = match
            alts = [a for a in SYNONYMS[body.lower()] if a or (not punct and units)]
            if body[:1].isupper():
                alts = [_cap(a) for a in alts]
            units.append(Unit(lead + body + punct, np.array([(lead + a + punct) if a else "" for a in alts],
                                                             dtype=object), words=k))
            covered += k
            total += k
            i += k
        out.append(units)
    return Template(out, covered / max(total, 1))


def slot(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if name in EXTRA_SLOTS:
        vocab = EXTRA_SLOTS[name]
        return vocab[rng.integers(len(vocab), size=n)]
    return base_slot(name, n, rng)


def _render_unit(u: Unit, n: int, p: float, rng: np.random.Generator) -> np.ndarray:
    if u.parts:
        out = np.full(n, "", dtype=object)
        for lit, f in u.parts:
            out = out + lit if lit else out
            if f is not None:
                out = out + slot(f, n, rng)
        return out
    if u.alts is None or p <= 0:
        return np.full(n, u.text, dtype=object)
    change = rng.random(n) < p
    return np.where(change, u.alts[rng.integers(len(u.alts), size=n)], u.text)


def render(t: Template, n: int, rng: np.random.Generator, paraphrase: float = 0.0, reorder: float = 0.0,
           filler: float = 0.0) -> np.ndarray:
    """``n`` renderings of one template: reworded, with filler and reordered clauses at the given rates."""
    p = min(1.0, paraphrase / t.coverage) if t.coverage > 0 else 0.0
    inside = max(0.0, filler - 0.2) / 4
    clauses = np.empty((len(t.clauses), n), dtype=object)
    for c, units in enumerate(t.clauses):
        text = np.full(n, "", dtype=object)
        for j, u in enumerate(units):
            if j and inside > 0:
                add = rng.random(n) < inside
                text = text + np.where(add, " " + INSERTS[rng.integers(len(INSERTS), size=n)], "")
            text = text + _render_unit(u, n, p, rng)
        clauses[c] = text
    order = np.tile(np.arange(len(t.clauses)), (n, 1))
    if reorder > 0 and len(t.clauses) > 1:
        moved = np.flatnonzero(rng.random(n) < reorder)
        head = 1 if len(t.clauses) > 2 else 0  # the opening clause usually stays first
        order[moved, head:] = head + np.argsort(rng.random((len(moved), len(t.clauses) - head)), axis=1)
    cols = np.arange(n)
    out = clauses[order[:, 0], cols]
    for j in range(1, len(t.clauses)):
        if filler > 0:
            add = rng.random(n) < filler
            out = out + np.where(add, " " + FILLERS[rng.integers(len(FILLERS), size=n)], "")
        out = out + " " + clauses[order[:, j], cols]
    return out


def one_instance(t: Template, rng: np.random.Generator, paraphrase: float) -> list[tuple[str, str | None]]:
    """One reworded instance with its slots left as fields (the shape ``intel.excerpt`` reads)."""
    p = min(1.0, paraphrase / t.coverage) if t.coverage > 0 else 0.0
    parts: list[tuple[str, str | None]] = []
    for c, units in enumerate(t.clauses):
        sep = " " if c else ""
        for u in units:
            if u.parts:
                parts += [(sep + lit, f) if k == 0 else (lit, f) for k, (lit, f) in enumerate(u.parts)]
            else:
                text = u.text
                if u.alts is not None and rng.random() < p:
                    text = str(u.alts[rng.integers(len(u.alts))])
                parts.append((sep + text, None))
            sep = ""
    return parts


@dataclass
class TemplateSet:
    """Variants of one shared text and how an account draws from them.

    An account with a favourite variant (``tvariant >= 0``) uses it for a
    ``favour`` share of its templated prompts and any variant otherwise.
    """

    variants: list[Template]
    paraphrase: float = 0.0
    reorder: float = 0.0
    filler: float = 0.0
    favour: float = 0.0

    def render(self, favourite: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        k = len(favourite)
        own = (favourite >= 0) & (rng.random(k) < self.favour)
        choice = np.where(own, favourite, rng.integers(len(self.variants), size=k))
        out = np.empty(k, dtype=object)
        for v in np.unique(choice):
            sel = np.flatnonzero(choice == v)
            out[sel] = render(self.variants[int(v)], len(sel), rng, self.paraphrase, self.reorder, self.filler)
        return out


def template_set(variants: list[list[str]], **rates) -> TemplateSet:
    return TemplateSet([compile_clauses(v) for v in variants], **rates)


def render_sets(sets: list[TemplateSet], set_idx: np.ndarray, favourite: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Prompt text for requests whose accounts draw on template sets (a loop per set and variant)."""
    out = np.empty(len(set_idx), dtype=object)
    for s in np.unique(set_idx):
        sel = np.flatnonzero(set_idx == s)
        out[sel] = sets[int(s)].render(favourite[sel], rng)
    return out
