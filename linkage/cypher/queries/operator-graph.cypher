// id: operator-graph
// name: Operator as a graph
// description: An operator (a name, or top: the operator of the highest-scoring ring) with its rings, its intel
//   indicators and what those indicators point to, as paths for Bloom or Browser.
// params: operator: string (example: top)
// mode: read
// bloom: operator $operator
MATCH (o:Operator)
WHERE o.name = $operator OR $operator = 'top'
OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(best:Ring)
WITH o, max(best.score) AS best
ORDER BY CASE WHEN o.name = $operator THEN 0 ELSE 1 END, best DESC, o.name
LIMIT 1
CALL (o) {
  MATCH p = (o)<-[:ATTRIBUTED_TO]-(:Ring)
  RETURN p
  UNION
  MATCH p = (o)<-[:KNOWN_FOR]-(:Indicator)
  RETURN p
  UNION
  MATCH p = (o)<-[:KNOWN_FOR]-(:Indicator)-[:POINTS_TO]->()
  RETURN p
}
RETURN p
