// id: ring-graph
// name: Ring members as a graph
// description: The ring (an id, or top: the highest-scoring ring), its operator, its members, and per signal
//   family the 10 weighted entities (not hubs) most shared among its members (at least two), as paths for Bloom
//   or Browser. Template n-grams are captioned by their words; a ring reuses hundreds of them, so only its most
//   shared ones are drawn (ring-members counts them all).
// params: ring_id: string (example: top)
// mode: read
// bloom: ring $ring_id members
MATCH (r:Ring)
WHERE r.ring_id = $ring_id OR $ring_id = 'top'
WITH r ORDER BY r.score DESC, r.ring_id
LIMIT 1
CALL (r) {
  MATCH p = (r)-[:ATTRIBUTED_TO]->(:Operator)
  RETURN p
  UNION
  MATCH p = (r)<-[:MEMBER_OF]-(:Account)
  RETURN p
  UNION
  MATCH (r)<-[:MEMBER_OF]-(m:Account)-->(e:Entity)
  WHERE e.pair_weight > 0
  WITH e, count(m) AS members
  WHERE members >= 2
  WITH e ORDER BY members DESC, e.key
  WITH e.family AS family, collect(e)[..10] AS top
  UNWIND top AS e
  MATCH p = (a:Account)-->(e)
  WHERE (a)-[:MEMBER_OF]->(r)
  RETURN p
}
RETURN p
