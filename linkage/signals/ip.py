"""Client IP overlap: proxy pools reused across a ring's accounts.

A carrier NAT or campus gateway is shared by thousands of strangers; the
rarity weighting and hub cap make such addresses carry nothing.
"""

from duckdb import DuckDBPyConnection

from ..config import Config
from ..families import Family, FamilyParams, GraphNode, register


def prepare(con: DuckDBPyConnection, config: Config) -> None:
    """Stage ``ip_uses`` (one pass over the requests) and ``ip_networks(entity, network)``: the network
    (ASN) of each address, so scoring can tell a group sharing one place's addresses from one sharing
    a proxy pool's (``scoring.pool_sql``)."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ip_uses AS
           SELECT aid, ip, count(*) AS requests, min(ts) AS first, max(ts) AS last, min(asn) AS asn
           FROM events WHERE ip IS NOT NULL GROUP BY aid, ip"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE ip_networks AS
           SELECT ip AS entity, min(asn) AS network FROM ip_uses WHERE asn IS NOT NULL GROUP BY ip"""
    )


def sql(config: Config) -> str:
    return "SELECT aid, ip AS entity, requests, first, last FROM ip_uses"


FAMILY = register(Family(
    name="ip", operation_ties=True, label="IP", sql=sql, prepare=prepare, writes=("ip_networks",),
    defaults=FamilyParams(weight=1.0, cap=120),
    infrastructure=True, addresses=True, intel_kind="ip", intel_value="lower(value)",
    node=GraphNode("IP", "address", "USED_IP"), colour="#0072B2",
))
