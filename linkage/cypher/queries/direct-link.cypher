// id: direct-link
// name: Direct evidence link between two accounts
// description: Whether both accounts exist and, if the evidence graph links them directly, the link's weight,
//   the signal families behind it and each family's share of the weight (one LINKED relationship per pair;
//   per_family lists [family, weight] for every family the run weighs).
// params:
//   a: string (example: acc_31e11cac)
//   b: string (example: acc_45d62144)
// mode: read
OPTIONAL MATCH (a:Account {account_id: $a})
OPTIONAL MATCH (b:Account {account_id: $b})
OPTIONAL MATCH (a)-[l:LINKED]-(b)
RETURN a IS NOT NULL AS a_found, b IS NOT NULL AS b_found, l.weight AS weight, l.signals AS signals,
       CASE WHEN l IS NULL THEN [] ELSE
         [k IN keys(l) WHERE k STARTS WITH 'w_' | [substring(k, 2), l[k]]] END AS per_family
