"""Email domains: throwaway or catch-all domains registered for a ring.

Free-mail providers are shared by everyone and are not evidence at all.
"""

from ..config import Config
from ..families import Family, FamilyParams, GraphNode, register


def sql(config: Config) -> str:
    return """
        SELECT a.aid, a.email_domain AS entity, 0 AS requests, a.created_at AS first, a.created_at AS last
        FROM accounts a
        WHERE a.email_domain IS NOT NULL
          AND a.email_domain NOT IN (SELECT domain FROM free_mail_domains)
    """


FAMILY = register(Family(
    name="email", operation_ties=True, reads=("accounts", "free_mail_domains"), label="email domain", sql=sql, defaults=FamilyParams(weight=1.5, cap=400),
    infrastructure=True, intel_kind="email_domain", intel_value="lower(value)",
    node=GraphNode("EmailDomain", "domain", "HAS_EMAIL_DOMAIN", counter=None), colour="#D55E00",
))
