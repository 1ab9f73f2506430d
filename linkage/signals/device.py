"""Device fingerprints: a scripted harness reuses its fingerprint across accounts.

Official SDK fingerprints are shared by thousands of honest developers and
fall past the hub cap.
"""

FAMILY = "device"


def sql(config) -> str:
    return """
        SELECT aid, device_id AS entity, count(*) AS requests, min(ts) AS first, max(ts) AS last
        FROM events WHERE device_id IS NOT NULL GROUP BY aid, device_id
    """
