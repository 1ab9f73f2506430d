"""Shared payment instruments: the strongest single tie, since a card batch is bought once."""

FAMILY = "payment"


def sql(config) -> str:
    return """
        SELECT aid, instrument_id AS entity, count(*) AS requests, min(ts) AS first, max(ts) AS last
        FROM payments GROUP BY aid, instrument_id
    """
