"""``linkage explain A B``: why two accounts are linked, or why not, in figures a reader can redo.

What it gives, each part something an investigator can check by hand:

1. the flagged rings each account is in (score, size, operator);
2. per signal family, how the entities both accounts use make the family's share of the
   link weight: the pair weight of each entity (falling with how many accounts share it;
   nothing past the family's hub cap), their sum or mean (a template's n-grams are averaged),
   the family cap, and the ``min_shared`` rule; then the org discount and the least link
   weight. The families add up to the link's weight; with no link, the first cut that
   removed it is named with what the pair would have weighed (``model.weigh``);
3. hubs explained: how many accounts share one, the cap it is past, how many of its users
   are ring members (the cap is absolute per family);
4. with no link, the accounts linked to both (how a ring holds two members that are not
   linked to each other), and, when they share nothing of weight, the shortest evidence
   paths through at most two intermediate accounts, rarest first.

``--from OUT`` reads the run's folder with the run's own parameters (``from_out``);
``--neo4j`` runs the query library (``from_neo4j``). Both give one :class:`Explanation`;
``text`` renders it.
"""

from .from_neo4j import explain_from_neo4j
from .from_out import explain_from_out
from .model import MAX_INTERMEDIATE, TOP_PATHS, Explanation, FamilyShare, RingRef, Weighing, weigh
from .text import SHARED_COLUMNS, format_explanation, shared_rows, to_json

__all__ = ["explain_from_out", "explain_from_neo4j", "Explanation", "FamilyShare", "RingRef", "Weighing", "weigh",
           "format_explanation", "shared_rows", "to_json", "SHARED_COLUMNS", "MAX_INTERMEDIATE", "TOP_PATHS"]
