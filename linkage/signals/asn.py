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


FAMILY = register(Family(
    name="asn", label="ASN", sql=sql, defaults=FamilyParams(weight=0.0, cap=0), intel_kind="asn",
    intel_value="CAST(TRY_CAST(regexp_replace(value, '^(?i)as', '') AS UBIGINT) AS VARCHAR)",
    stored="asn", colour="#999999",
))
