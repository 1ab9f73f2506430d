// id: operator-footprint
// name: Operator footprint
// description: What one operator (a known one from intel, or an unattributed-… cluster; top: the operator of the
//   highest-scoring ring) holds: its rings, their accounts and requests, how many weighted entities (not hubs)
//   of each signal family their members use, and its intel indicators, with how many of them matched something
//   in the graph.
// params: operator: string (example: top)
// mode: read
MATCH (o:Operator)
WHERE o.name = $operator OR $operator = 'top'
OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(best:Ring)
WITH o, max(best.score) AS best
ORDER BY CASE WHEN o.name = $operator THEN 0 ELSE 1 END, best DESC, o.name
LIMIT 1
CALL (o) {
  OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(r:Ring)
  WITH r ORDER BY r.score DESC, r.ring_id
  RETURN collect(r.ring_id) AS rings
}
CALL (o) {
  OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(:Ring)<-[:MEMBER_OF]-(a:Account)
  RETURN count(DISTINCT a) AS accounts, sum(a.requests) AS requests
}
CALL (o) {
  OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(:Ring)<-[:MEMBER_OF]-(:Account)-->(e:Entity)
  WHERE e.pair_weight > 0
  WITH e.family AS family, count(DISTINCT e) AS n
  ORDER BY n DESC, family
  RETURN [x IN collect(CASE WHEN family IS NOT NULL THEN family + ' ' + toString(n) END) WHERE x IS NOT NULL]
         AS entities
}
CALL (o) {
  OPTIONAL MATCH (i:Indicator)-[:KNOWN_FOR]->(o)
  RETURN count(i) AS indicators, count(CASE WHEN EXISTS { (i)-[:POINTS_TO]->() } THEN i END) AS indicators_matched
}
RETURN o.name AS operator, o.known AS known, rings, accounts, requests, entities, indicators, indicators_matched
