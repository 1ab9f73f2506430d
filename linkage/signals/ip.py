"""Client IP overlap: proxy pools reused across a ring's accounts.

A carrier NAT or campus gateway is shared by thousands of strangers; the
rarity weighting and hub cap in ``common`` make such addresses carry nothing.
"""

FAMILY = "ip"


def sql(config) -> str:
    return """
        SELECT aid, ip AS entity, count(*) AS requests, min(ts) AS first, max(ts) AS last
        FROM events WHERE ip IS NOT NULL GROUP BY aid, ip
    """
