"""Device fingerprints: a scripted harness reuses its fingerprint across accounts.

Official SDK fingerprints are shared by thousands of honest developers and
fall past the hub cap. A fingerprint is software, not infrastructure: benign
groups share one legitimately, so it never counts as the infrastructure a ring needs.
"""

from ..config import Config
from ..families import Family, FamilyParams, GraphNode, register


def sql(config: Config) -> str:
    return """
        SELECT aid, device_id AS entity, count(*) AS requests, min(ts) AS first, max(ts) AS last
        FROM events WHERE device_id IS NOT NULL GROUP BY aid, device_id
    """


FAMILY = register(Family(
    name="device", operation_ties=True, label="device", sql=sql, defaults=FamilyParams(weight=2.0, cap=60), intel_kind="device",
    node=GraphNode("Device", "device_id", "USED_DEVICE"), colour="#009E73",
))
