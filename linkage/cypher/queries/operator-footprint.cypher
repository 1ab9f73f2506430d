// id: operator-footprint
// name: Operator footprint
// description: What one operator (a known one from intel, or an unattributed-… cluster) holds: its rings,
//   their accounts and requests, the weighted entities (not hubs) their members use per kind, and its intel
//   indicators, with how many of them matched something in the graph.
// params: operator: string (example: CRIMSON-LATHE)
// mode: read
MATCH (o:Operator {name: $operator})
CALL (o) {
  OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(r:Ring)
  RETURN collect(r.ring_id) AS rings
}
CALL (o) {
  OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(:Ring)<-[:MEMBER_OF]-(a:Account)
  RETURN count(DISTINCT a) AS accounts, sum(a.requests) AS requests
}
CALL (o) {
  OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(:Ring)<-[:MEMBER_OF]-(:Account)
                 -[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]->(e)
  WHERE e.pair_weight > 0
  RETURN count(DISTINCT CASE WHEN e:PaymentInstrument THEN e END) AS cards,
         count(DISTINCT CASE WHEN e:IP THEN e END) AS ips,
         count(DISTINCT CASE WHEN e:Device THEN e END) AS devices,
         count(DISTINCT CASE WHEN e:EmailDomain THEN e END) AS email_domains,
         count(DISTINCT CASE WHEN e:PromptTemplate THEN e END) AS template_ngrams
}
CALL (o) {
  OPTIONAL MATCH (i:Indicator)-[:KNOWN_FOR]->(o)
  RETURN count(i) AS indicators, count(CASE WHEN EXISTS { (i)-[:POINTS_TO]->() } THEN i END) AS indicators_matched
}
RETURN o.name AS operator, o.known AS known, rings, accounts, requests, cards, ips, devices, email_domains,
       template_ngrams, indicators, indicators_matched
