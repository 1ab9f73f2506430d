// id: shared-entities
// name: Entities two accounts share
// description: Every signal entity both accounts use, of any family, with its rarity (accounts sharing it), its
//   hub flag, its family's cap and its per-pair weight; hubs are listed but carry no weight, and for a hub
//   in_rings counts how many of its accounts are ring members (a hub can be a ring's own device: the cap is
//   absolute). Template n-grams show their words (text). ASNs come from the accounts' IPs and carry no weight.
//   The examples are accounts of the fixture world; `linkage query run ring-members -p ring_id=top` lists yours.
// params:
//   a: string (example: acc_31e11cac)
//   b: string (example: acc_45d62144)
// mode: read
MATCH (a:Account {account_id: $a}), (b:Account {account_id: $b})
WHERE a <> b
CALL (a, b) {
  MATCH (a)-->(e:Entity)<--(b)
  WITH DISTINCT e
  RETURN e.family AS family, e.key AS entity, CASE WHEN e.name <> e.key THEN e.name END AS text,
         e.accounts AS accounts, e.hub AS hub, e.pair_weight AS pair_weight, e.cap AS cap,
         CASE WHEN e.hub THEN COUNT { (e)<--(x:Account) WHERE x.ring_id IS NOT NULL } END AS in_rings
  UNION
  MATCH (a)-[:USED_IP]->(:IP)-[:IN_ASN]->(n:ASN)<-[:IN_ASN]-(:IP)<-[:USED_IP]-(b)
  RETURN DISTINCT 'asn' AS family, toString(n.number) AS entity, null AS text, n.accounts AS accounts,
         true AS hub, 0.0 AS pair_weight, null AS cap, null AS in_rings
}
RETURN family, entity, text, accounts, hub, pair_weight, cap, in_rings
ORDER BY pair_weight DESC, accounts, family, entity
