// id: shared-entities
// name: Entities two accounts share
// description: Every signal entity both accounts use, with its rarity (accounts sharing it), its hub flag and its
//   per-pair weight; hubs are listed but carry no weight. ASNs come from the accounts' IPs and carry no weight.
// params:
//   a: string (example: acc_31e11cac)
//   b: string (example: acc_45d62144)
// mode: read
MATCH (a:Account {account_id: $a}), (b:Account {account_id: $b})
WHERE a <> b
CALL (a, b) {
  MATCH (a)-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]->(e)<-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]-(b)
  RETURN DISTINCT labels(e)[0] AS kind,
         coalesce(e.instrument_id, e.address, e.device_id, e.domain, e.shingle_id) AS entity,
         e.text AS text, e.accounts AS accounts, e.hub AS hub, e.pair_weight AS pair_weight
  UNION
  MATCH (a)-[:USED_IP]->(:IP)-[:IN_ASN]->(n:ASN)<-[:IN_ASN]-(:IP)<-[:USED_IP]-(b)
  RETURN DISTINCT 'ASN' AS kind, toString(n.number) AS entity, null AS text, n.accounts AS accounts,
         true AS hub, 0.0 AS pair_weight
}
RETURN kind, entity, text, accounts, hub, pair_weight
ORDER BY pair_weight DESC, accounts, kind, entity
