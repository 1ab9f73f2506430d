"""Sign-up bursts: a ring's accounts are created by a script within minutes.

Only anomalous windows become entities: a window counts as a burst when it
holds far more sign-ups than the batch's average rate predicts (a Poisson
bound), so a busy platform's ordinary sign-up traffic links no one.
"""

from ..config import Config
from ..families import Family, FamilyParams, register


def sql(config: Config) -> str:
    w = int(config.signup_window_s)
    return f"""
        WITH b AS (SELECT aid, created_at, CAST(floor(epoch(created_at) / {w}) AS BIGINT) AS bucket FROM accounts),
        c AS (SELECT bucket, count(*) AS n FROM b GROUP BY bucket),
        rate AS (SELECT count(*) / greatest(1, max(bucket) - min(bucket) + 1) AS lam FROM b)
        SELECT b.aid, strftime(to_timestamp(b.bucket * {w}), '%Y-%m-%dT%H:%M:%SZ') AS entity,
               0 AS requests, b.created_at AS first, b.created_at AS last
        FROM b JOIN c USING (bucket), rate
        WHERE c.n >= rate.lam + 5 * sqrt(rate.lam) + 4
    """


FAMILY = register(Family(
    name="signup", reads=("accounts",), label="sign-up burst", sql=sql, defaults=FamilyParams(weight=0.5, cap=200, share_k=3), share_feature="burst_share",
    stored="derived", colour="#56B4E9",
))
