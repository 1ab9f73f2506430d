// id: common-neighbours
// name: Accounts linked to both of two accounts
// description: The accounts the evidence graph links directly to both accounts, strongest pair of links first
//   (by the weaker of the two). Two members of one ring need not be linked to each other: the ring holds them
//   through such common neighbours. The examples are accounts of the fixture world (same ring, not directly
//   linked); `linkage query run ring-members -p ring_id=top` lists accounts of yours.
// params:
//   a: string (example: acc_31e11cac)
//   b: string (example: acc_828e4a97)
//   limit: int (example: 10)
// mode: read
MATCH (a:Account {account_id: $a})-[la:LINKED]-(m:Account)-[lb:LINKED]-(b:Account {account_id: $b})
WHERE a <> b
RETURN m.account_id AS account_id, m.ring_id AS ring_id, la.weight AS weight_a, lb.weight AS weight_b,
       CASE WHEN la.weight < lb.weight THEN la.weight ELSE lb.weight END AS weakest,
       COUNT { (a)-[:LINKED]-(:Account)-[:LINKED]-(b) } AS common
ORDER BY weakest DESC, account_id
LIMIT $limit
