"""Card batches: the issuer BIN of the fresh cards an operator buys, one per account.

A BIN is an issuer's product, shared by thousands of strangers, so it never links
two accounts. What it tells is *how a ring pays*: an operator who gives every
account its own card buys them in a batch from one issuer, often a virtual-card
issuer that also serves ordinary customers. A community whose members' own cards
come improbably often from one BIN, given how common that BIN is in the batch,
pays from a batch bought for it (``linkage.scoring``); communities paying from the
same batch are one operator's (``linkage.operations``).

Only cards one account uses count: a shared card is the ``payment`` family's
evidence, and a household sharing one card is not a batch.

Not a node family in Neo4j: the BIN is a property of the stored payment
instruments, and ``linkage rings --neo4j`` rebuilds the incidences from them.
"""

from ..config import Config
from ..families import Family, FamilyParams, register


def sql(config: Config) -> str:
    return """
        SELECT p.aid, p.bin AS entity, count(*) AS requests, min(p.ts) AS first, max(p.ts) AS last
        FROM payments p
        WHERE p.bin IS NOT NULL AND p.bin <> '' AND p.instrument_id IN (
            SELECT instrument_id FROM payments GROUP BY instrument_id HAVING count(DISTINCT aid) = 1)
        GROUP BY p.aid, p.bin
    """


#: The incidences again from the stored graph: BINs of instruments exactly one account paid with.
INCIDENCE_CYPHER = """
MATCH (p:PaymentInstrument) WHERE p.bin IS NOT NULL AND p.bin <> ''
MATCH (a:Account)-[r:PAID_WITH]->(p)
WITH p, collect(a) AS holders, collect(r) AS uses
WHERE size(holders) = 1
WITH holders[0] AS a, p.bin AS entity, uses[0] AS r
RETURN a.account_id AS account_id, entity, sum(r.payments) AS requests,
       min(r.first).epochSeconds AS first, max(r.last).epochSeconds AS last
"""

FAMILY = register(Family(
    name="card_batch", label="card BIN", reads=("payments",), sql=sql, defaults=FamilyParams(weight=0.0, cap=0),
    infrastructure=True, batch=True, counts_with="payment", stored="cypher",
    incidence_cypher=INCIDENCE_CYPHER, colour="#B07A00",
))
