// id: ring-graph
// name: Ring members as a graph
// description: The ring, its operator, its members, and the cards, IPs, devices and email domains (not hubs)
//   that at least two members share, as paths for Bloom or Browser. Template n-grams are left out: a ring
//   reuses hundreds of them (see ring-members for their counts).
// params: ring_id: string (example: ring-6339b13725c3)
// mode: read
// bloom: ring $ring_id members
MATCH p = (:Ring {ring_id: $ring_id})-[:ATTRIBUTED_TO]->(:Operator)
RETURN p
UNION
MATCH p = (:Ring {ring_id: $ring_id})<-[:MEMBER_OF]-(:Account)
RETURN p
UNION
MATCH (r:Ring {ring_id: $ring_id})<-[:MEMBER_OF]-(a:Account)
MATCH p = (a)-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN]->(e)
WHERE e.pair_weight > 0
  AND EXISTS { MATCH (e)<-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN]-(o:Account)-[:MEMBER_OF]->(r) WHERE o <> a }
RETURN p
