// id: account-neighbours
// name: Accounts sharing infrastructure with an account
// description: Every account that shares at least one weighted entity (not a hub) with the given account,
//   with the entities they share, the evidence link between them if any, and the other account's ring.
//   Strongest link first.
// params:
//   account_id: string (example: acc_31e11cac)
//   limit: int (example: 50)
// mode: read
MATCH (a:Account {account_id: $account_id})-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]->(e)
WHERE e.pair_weight > 0
MATCH (e)<-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]-(b:Account)
WHERE b <> a
WITH a, b, collect(e) AS shared
OPTIONAL MATCH (a)-[l:LINKED]-(b)
RETURN b.account_id AS account_id, b.ring_id AS ring_id, l.weight AS link_weight, l.signals AS signals,
       size(shared) AS shared_entities,
       [e IN shared | labels(e)[0] + ' ' + coalesce(e.text, e.instrument_id, e.address, e.device_id, e.domain,
                                                   e.shingle_id) + ' (' + toString(e.accounts) + ')'][..8] AS entities
ORDER BY coalesce(link_weight, 0.0) DESC, shared_entities DESC, account_id
LIMIT $limit
