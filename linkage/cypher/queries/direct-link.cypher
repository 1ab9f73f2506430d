// id: direct-link
// name: Direct evidence link between two accounts, and their rings
// description: Whether both accounts exist, their verified org (a pair inside one org is discounted), the flagged
//   rings each is a member or a bystander of (with score, size and operator; `recruits` names which of the two joined
//   the ring from outside its community), and, if the evidence graph links them directly,
//   the link's weight, the signal families behind it and each family's share of the weight (one LINKED
//   relationship per pair; per_family lists [family, weight] for every family the run weighs). The examples are
//   accounts of the fixture world; `linkage query run ring-members -p ring_id=top` lists accounts of yours.
// params:
//   a: string (example: acc_31e11cac)
//   b: string (example: acc_45d62144)
// mode: read
OPTIONAL MATCH (a:Account {account_id: $a})
OPTIONAL MATCH (b:Account {account_id: $b})
OPTIONAL MATCH (a)-[l:LINKED]-(b)
CALL (a, b) {
  OPTIONAL MATCH (r:Ring)
  WHERE EXISTS { MATCH (x:Account)-[:MEMBER_OF]->(r) WHERE x = a OR x = b }
     OR a.account_id IN r.bystanders OR b.account_id IN r.bystanders
  OPTIONAL MATCH (r)-[t:ATTRIBUTED_TO]->(o:Operator)
  OPTIONAL MATCH (x:Account)-[:MEMBER_OF]->(r)
  WHERE x = a OR x = b
  WITH r, collect(x.account_id) AS members, o, t
  ORDER BY r.score DESC, r.ring_id
  RETURN [x IN collect(CASE WHEN r IS NOT NULL THEN {ring_id: r.ring_id, score: r.score, size: r.size,
                                                    operator: r.operator, operator_cluster: o.name,
                                                    operator_confidence: t.confidence, operation: r.operation,
                                                    members: members,
                                                    bystanders: [y IN [a.account_id, b.account_id]
                                                                 WHERE y IN r.bystanders],
                                                    recruits: [y IN [a.account_id, b.account_id]
                                                               WHERE y IN coalesce(r.recruits, [])]} END)
          WHERE x IS NOT NULL] AS rings
}
RETURN a IS NOT NULL AS a_found, b IS NOT NULL AS b_found, a.org_id AS a_org, b.org_id AS b_org, rings,
       l.weight AS weight, l.signals AS signals,
       CASE WHEN l IS NULL THEN [] ELSE
         [k IN keys(l) WHERE k STARTS WITH 'w_' | [substring(k, 2), l[k]]] END AS per_family
