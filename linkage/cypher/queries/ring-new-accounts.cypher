// id: ring-new-accounts
// name: New accounts on a ring's infrastructure
// description: Accounts created on or after a date (UTC) that use any weighted entity (not a hub) of the ring's
//   members: its cards, IPs, devices, email domains or template n-grams. Catches a ring rebuilding after a ban.
//   Members of the ring itself are flagged; earliest sign-up first.
// params:
//   ring_id: string (example: ring-6339b13725c3)
//   since: date (example: 2026-04-01)
// mode: read
MATCH (r:Ring {ring_id: $ring_id})<-[:MEMBER_OF]-(:Account)-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]->(e)
WHERE e.pair_weight > 0
WITH r, collect(DISTINCT e) AS infrastructure
UNWIND infrastructure AS e
MATCH (e)<-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]-(a:Account)
WHERE a.created_at >= datetime({date: $since, timezone: 'UTC'})
WITH r, a, collect(e) AS via
RETURN a.account_id AS account_id, a.created_at AS created_at, a.ring_id AS ring_id,
       EXISTS { (a)-[:MEMBER_OF]->(r) } AS member, size(via) AS shared_entities,
       [e IN via WHERE NOT e:PromptTemplate |
          labels(e)[0] + ' ' + coalesce(e.instrument_id, e.address, e.device_id, e.domain)][..5] AS infrastructure
ORDER BY created_at, account_id
