// id: evidence-paths
// name: Evidence paths between two accounts
// description: The shortest paths from one account to another through shared entities of any family and
//   intermediate accounts, up to 4 hops (3 intermediate accounts), hubs and unshared entities excluded
//   (pair_weight > 0). Paths are ranked by rarity: cost is the sum, over the path's entities, of the other
//   accounts sharing each (lower is stronger); weakest is the smallest per-pair weight on the path. At most 25.
// params:
//   a: string (example: acc_31e11cac)
//   b: string (example: acc_45d62144)
// mode: read
// bloom: why are $a and $b linked
MATCH (a:Account {account_id: $a}), (b:Account {account_id: $b})
WHERE a <> b
MATCH p = allShortestPaths((a)-[*..8]-(b))
WHERE all(n IN nodes(p) WHERE n:Account OR (n:Entity AND n.pair_weight > 0))
  AND none(r IN relationships(p) WHERE type(r) = 'LINKED')
WITH p, [n IN nodes(p) WHERE NOT n:Account] AS ents
WITH p, ents, reduce(c = 0, e IN ents | c + e.accounts - 1) AS cost,
     reduce(w = head(ents).pair_weight, e IN ents | CASE WHEN e.pair_weight < w THEN e.pair_weight ELSE w END) AS weakest
RETURN size(ents) AS hops, cost, weakest,
       [n IN nodes(p) WHERE n:Account | n.account_id] AS accounts,
       [e IN ents | e.family + ' ' + e.name + ' (' + toString(e.accounts) + ')'] AS via,
       p AS path
ORDER BY hops, cost, weakest DESC, accounts, via
LIMIT 25
