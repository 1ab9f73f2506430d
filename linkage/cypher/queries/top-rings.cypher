// id: top-rings
// name: Top rings by score
// description: The highest-scoring current rings (not merged, split or superseded by a later batch) with size,
//   requests, active span and operator: the name from intel (operator, empty when unattributed) and the operator
//   node it is attributed to (a known operator or an unattributed-… cluster) with the confidence.
// params: limit: int (example: 10)
// mode: read
// bloom: top $limit rings
MATCH (r:Ring) WHERE coalesce(r.status, 'active') = 'active'
OPTIONAL MATCH (r)-[t:ATTRIBUTED_TO]->(o:Operator)
RETURN r AS ring, r.score AS score, r.size AS size, r.requests AS requests, r.first_seen AS first_seen,
       r.last_seen AS last_seen, r.operator AS operator, o.name AS attributed_to, o.known AS known_operator,
       t.confidence AS confidence
ORDER BY score DESC, r.ring_id
LIMIT $limit
