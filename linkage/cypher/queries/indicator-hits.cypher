// id: indicator-hits
// name: Indicator hits per operator
// description: For every intel indicator that matched the graph, the accounts touching what it points to (the
//   account itself, the accounts using the entity of any family it names, or an IP in the ASN), with the rings
//   they are in. Grouped per operator, most accounts first.
// params: none
// mode: read
MATCH (i:Indicator)-[:KNOWN_FOR]->(o:Operator)
MATCH (i)-[:POINTS_TO]->(t)
CALL (t) {
  WITH t AS a WHERE a:Account
  RETURN a
  UNION
  MATCH (a:Account)-->(t:Entity)
  RETURN a
  UNION
  MATCH (a:Account)-[:USED_IP]->(:IP)-[:IN_ASN]->(t:ASN)
  RETURN a
}
WITH o, i, collect(DISTINCT a) AS touched, collect(DISTINCT a.ring_id) AS rings
RETURN o.name AS operator, i.kind AS kind, i.value AS value, size(touched) AS accounts,
       size([x IN touched WHERE x.ring_id IS NOT NULL]) AS in_rings, rings,
       [x IN touched | x.account_id][..5] AS sample
ORDER BY operator, accounts DESC, kind, value
