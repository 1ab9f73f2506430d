// id: account-neighbours
// name: Accounts sharing evidence with an account
// description: Every account that shares at least one weighted entity (not a hub) of any signal family with the
//   given account, with the entities they share (template n-grams by their words), the evidence link between
//   them if any, and the other account's ring. Strongest link first. The example is an account of the fixture
//   world; `linkage query run ring-members -p ring_id=top` lists accounts of yours.
// params:
//   account_id: string (example: acc_31e11cac)
//   limit: int (example: 50)
// mode: read
MATCH (a:Account {account_id: $account_id})-->(e:Entity)
WHERE e.pair_weight > 0
MATCH (e)<--(b:Account)
WHERE b <> a
WITH a, b, e ORDER BY e.accounts, e.family, e.key
WITH a, b, collect(e) AS shared
OPTIONAL MATCH (a)-[l:LINKED]-(b)
RETURN b.account_id AS account_id, b.ring_id AS ring_id, l.weight AS link_weight, l.signals AS signals,
       size(shared) AS shared_entities,
       [e IN shared | e.family + ' ' + e.name + ' (' + toString(e.accounts) + ')'][..8] AS entities
ORDER BY coalesce(link_weight, 0.0) DESC, shared_entities DESC, account_id
LIMIT $limit
