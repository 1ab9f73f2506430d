// id: ring-new-accounts
// name: New accounts on a ring's evidence
// description: Accounts created on or after a date (UTC) that use any weighted entity (not a hub) of the ring's
//   members (ring: an id, or top: the highest-scoring ring), of any signal family: its cards, IPs, devices, email
//   domains, template n-grams. Catches a ring rebuilding after a ban. Members of the ring itself are flagged;
//   infrastructure names the shared entities (template n-grams by their words), rarest first; earliest sign-up
//   first. The example date is before any data, so every account on the ring's evidence shows.
// params:
//   ring_id: string (example: top)
//   since: date (example: 2000-01-01)
// mode: read
MATCH (r:Ring)
WHERE r.ring_id = $ring_id OR $ring_id = 'top'
WITH r ORDER BY r.score DESC, r.ring_id
LIMIT 1
MATCH (r)<-[:MEMBER_OF]-(:Account)-->(e:Entity)
WHERE e.pair_weight > 0
WITH r, collect(DISTINCT e) AS evidence
UNWIND evidence AS e
MATCH (e)<--(a:Account)
WHERE a.created_at >= datetime({date: $since, timezone: 'UTC'})
WITH r, a, e ORDER BY e.accounts, e.family, e.key
WITH r, a, collect(e) AS via
RETURN a.account_id AS account_id, a.created_at AS created_at, a.ring_id AS ring_id,
       EXISTS { (a)-[:MEMBER_OF]->(r) } AS member, size(via) AS shared_entities,
       [e IN via | e.family + ' ' + e.name + ' (' + toString(e.accounts) + ')'][..5] AS infrastructure
ORDER BY created_at, account_id
