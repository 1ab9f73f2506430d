"""Network prefixes: the /24 (IPv4), /48 and /64 (IPv6) an account's addresses fall in.

A proxy pool bought from one provider, or one household's rotating leases,
sits in a few prefixes even as its exact addresses change; a carrier's or an
ISP's prefix holds thousands of strangers. Prefixes carry no link weight by
default (neighbours on one ISP are not evidence) and do not tie rings into
operations (two operators renting exits from one residential proxy provider share
prefixes without sharing anything else: measured, it merged unrelated
operations). They are kept as evidence beside the exact IPs: investigators see
them in Neo4j, they match CIDR intel, and they leave in STIX exports.
"""

from ..config import Config
from ..families import Family, FamilyParams, GraphNode, register


def _v6(ip: str, groups: int) -> str:
    """The first ``groups`` hextets of an IPv6 address (``::`` expanded), as ``a:b:c::/bits``."""
    parts = f"string_split({ip}, '::')"
    left = f"CASE WHEN {parts}[1] = '' THEN [] ELSE string_split({parts}[1], ':') END"
    right = f"CASE WHEN array_length({parts}) < 2 OR {parts}[2] = '' THEN [] ELSE string_split({parts}[2], ':') END"
    full = (f"CASE WHEN array_length({parts}) = 2 THEN list_concat({left}, list_transform(range(greatest(0, 8 - array_length({left}) "
            f"- array_length({right}))), lambda x: '0'), {right}) ELSE string_split({ip}, ':') END")
    head = f"list_transform(({full})[1:{groups}], lambda g: coalesce(nullif(ltrim(g, '0'), ''), '0'))"
    return f"array_to_string({head}, ':') || '::/{16 * groups}'"


def sql(config: Config) -> str:
    v4 = "regexp_replace(ip, '\\.[0-9]+$', '') || '.0/24'"
    return f"""
        WITH per_ip AS (
            SELECT aid, ip, count(*) AS requests, min(ts) AS first, max(ts) AS last
            FROM events WHERE ip IS NOT NULL GROUP BY aid, ip
        ),
        prefixes AS (
            SELECT aid, {v4} AS entity, requests, first, last FROM per_ip WHERE NOT contains(ip, ':')
            UNION ALL
            SELECT aid, {_v6('ip', 3)}, requests, first, last FROM per_ip WHERE contains(ip, ':')
            UNION ALL
            SELECT aid, {_v6('ip', 4)}, requests, first, last FROM per_ip WHERE contains(ip, ':')
        )
        SELECT aid, entity, sum(requests) AS requests, min(first) AS first, max(last) AS last
        FROM prefixes GROUP BY aid, entity
    """


FAMILY = register(Family(
    name="prefix", label="network prefix", sql=sql, defaults=FamilyParams(weight=0.0, cap=120),
    infrastructure=True,
    node=GraphNode("NetworkPrefix", "prefix", "USED_PREFIX"), colour="#56B4E9",
))
