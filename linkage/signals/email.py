"""Email domains: throwaway or catch-all domains registered for a ring.

Free-mail providers are shared by everyone and are not evidence at all.
"""

FAMILY = "email"


def sql(config) -> str:
    return """
        SELECT a.aid, a.email_domain AS entity, 0 AS requests, a.created_at AS first, a.created_at AS last
        FROM accounts a
        WHERE a.email_domain IS NOT NULL
          AND a.email_domain NOT IN (SELECT domain FROM free_mail_domains)
    """
