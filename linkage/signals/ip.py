"""Client IP overlap: proxy pools reused across a ring's accounts.

A carrier NAT or campus gateway is shared by thousands of strangers; the
rarity weighting and hub cap make such addresses carry nothing.
"""

from ..config import Config
from ..families import Family, FamilyParams, GraphNode, register


def sql(config: Config) -> str:
    return """
        SELECT aid, ip AS entity, count(*) AS requests, min(ts) AS first, max(ts) AS last
        FROM events WHERE ip IS NOT NULL GROUP BY aid, ip
    """


FAMILY = register(Family(
    name="ip", operation_ties=True, label="IP", sql=sql, defaults=FamilyParams(weight=1.0, cap=120),
    infrastructure=True, addresses=True, intel_kind="ip", intel_value="lower(value)",
    node=GraphNode("IP", "address", "USED_IP"), colour="#0072B2",
))
