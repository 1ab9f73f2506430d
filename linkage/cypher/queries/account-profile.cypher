// id: account-profile
// name: Account profile
// description: Every signal entity one account uses, of any family (and the ASNs of its IPs), with its rarity:
//   how many accounts share it, whether it is a hub (shared past its family's cap, which is shown, so it carries
//   no link weight) and what it adds to each pair that shares it. Template n-grams show their words (name).
//   Rarest first. The example is an account of the fixture world; `linkage query run ring-members -p ring_id=top`
//   lists accounts of yours.
// params: account_id: string (example: acc_31e11cac)
// mode: read
MATCH (a:Account {account_id: $account_id})
CALL (a) {
  MATCH (a)-[u]->(e:Entity)
  RETURN e.family AS family, e.key AS entity, e.name AS name, e.accounts AS accounts, e.hub AS hub, e.cap AS cap,
         e.pair_weight AS pair_weight, head([k IN keys(u) WHERE NOT k IN ['first', 'last'] | u[k]]) AS uses,
         u.first AS first, u.last AS last
  UNION ALL
  MATCH (a)-[u:USED_IP]->(:IP)-[:IN_ASN]->(n:ASN)
  RETURN 'asn' AS family, toString(n.number) AS entity,
         toString(n.number) + CASE WHEN n.hosting THEN ' (hosting provider)' ELSE '' END AS name,
         n.accounts AS accounts, true AS hub, null AS cap, 0.0 AS pair_weight, sum(u.requests) AS uses,
         min(u.first) AS first, max(u.last) AS last
}
RETURN a.account_id AS account_id, a.ring_id AS ring_id, family, entity, name, accounts, hub, cap, pair_weight,
       uses, first, last
ORDER BY pair_weight DESC, accounts, family, entity
