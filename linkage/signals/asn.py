"""Autonomous systems: too coarse to link accounts, but they tell hosting from residential
infrastructure in ring scoring and carry ASN indicators in attribution.

Not a node family of its own in Neo4j: ASNs hang off the IPs (``(:IP)-[:IN_ASN]->(:ASN)``),
and ``linkage rings --neo4j`` rebuilds the incidences through that path.
"""

from ..config import Config
from ..families import Family, FamilyParams, register


def sql(config: Config) -> str:
    return """
        SELECT aid, CAST(asn AS VARCHAR) AS entity, count(*) AS requests, min(ts) AS first, max(ts) AS last
        FROM events WHERE asn IS NOT NULL GROUP BY aid, asn
    """


#: The incidences again from the stored graph, through the IPs each account used.
INCIDENCE_CYPHER = """
MATCH (a:Account)-[r:USED_IP]->(:IP)-[:IN_ASN]->(s:ASN)
RETURN a.account_id AS account_id, toString(s.number) AS entity, sum(r.requests) AS requests,
       min(r.first).epochSeconds AS first, max(r.last).epochSeconds AS last
"""

FAMILY = register(Family(
    name="asn", label="ASN", sql=sql, defaults=FamilyParams(weight=0.0, cap=0), intel_kind="asn",
    intel_value="CAST(TRY_CAST(regexp_replace(value, '^(?i)as', '') AS UBIGINT) AS VARCHAR)",
    stored="cypher", incidence_cypher=INCIDENCE_CYPHER, colour="#999999",
))
