// id: operator-graph
// name: Operator as a graph
// description: An operator with its rings, its intel indicators and what those indicators point to, as paths for
//   Bloom or Browser.
// params: operator: string (example: CRIMSON-LATHE)
// mode: read
// bloom: operator $operator
MATCH p = (:Operator {name: $operator})<-[:ATTRIBUTED_TO]-(:Ring)
RETURN p
UNION
MATCH p = (:Operator {name: $operator})<-[:KNOWN_FOR]-(:Indicator)
RETURN p
UNION
MATCH p = (:Operator {name: $operator})<-[:KNOWN_FOR]-(:Indicator)-[:POINTS_TO]->()
RETURN p
