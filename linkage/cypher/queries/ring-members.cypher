// id: ring-members
// name: Ring members and the evidence they share
// description: One row per member of the ring (an id, or top: the highest-scoring ring): sign-up time, requests,
//   how many weighted entities (not hubs) it shares with at least one other member, per signal family, and the
//   rarest of them by name (template n-grams by their words) with how many members share each.
// params: ring_id: string (example: top)
// mode: read
MATCH (r:Ring)
WHERE r.ring_id = $ring_id OR $ring_id = 'top'
WITH r ORDER BY r.score DESC, r.ring_id
LIMIT 1
MATCH (r)<-[:MEMBER_OF]-(m:Account)
OPTIONAL MATCH (m)-->(e:Entity)
WHERE e.pair_weight > 0
WITH r, m, e,
     CASE WHEN e IS NULL THEN 0 ELSE COUNT { (e)<--(:Account)-[:MEMBER_OF]->(r) } END AS members
WITH r, m, e, members
ORDER BY members, e.accounts, e.family, e.key
WITH r, m, collect(CASE WHEN members >= 2 THEN {family: e.family, text: e.family + ' ' + e.name + ' ('
                                                  + toString(members) + ')'} END) AS shared
CALL (shared) {
  UNWIND shared AS s
  WITH s.family AS family, count(*) AS n
  ORDER BY n DESC, family
  RETURN collect(family + ' ' + toString(n)) AS by_family
}
RETURN r.ring_id AS ring_id, m.account_id AS account_id, m.created_at AS created_at, m.requests AS requests,
       size(shared) AS shared_entities, by_family, [s IN shared | s.text][..6] AS infrastructure
ORDER BY account_id
