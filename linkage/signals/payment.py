"""Shared payment instruments: the strongest single tie, since a card batch is bought once."""

from ..config import Config
from ..families import Family, FamilyParams, GraphNode, register


def sql(config: Config) -> str:
    return """
        SELECT aid, instrument_id AS entity, count(*) AS requests, min(ts) AS first, max(ts) AS last
        FROM payments GROUP BY aid, instrument_id
    """


FAMILY = register(Family(
    name="payment", operation_ties=True, reads=("payments",), label="card", sql=sql, defaults=FamilyParams(weight=3.0, cap=60, share_k=2), share_feature="payment_share",
    infrastructure=True, intel_kind="instrument",
    node=GraphNode("PaymentInstrument", "instrument_id", "PAID_WITH", counter="payments",
                   details=("instrument_type", "bin"),
                   details_sql="SELECT instrument_id AS entity, min(instrument_type) AS instrument_type, "
                               "min(bin) AS bin FROM instruments GROUP BY instrument_id"),
    colour="#E69F00",
))
