"""Autonomous systems: too coarse to link accounts, but they tell hosting from residential
infrastructure in ring scoring and carry ASN indicators in attribution."""

FAMILY = "asn"


def sql(config) -> str:
    return """
        SELECT aid, CAST(asn AS VARCHAR) AS entity, count(*) AS requests, min(ts) AS first, max(ts) AS last
        FROM events WHERE asn IS NOT NULL GROUP BY aid, asn
    """
