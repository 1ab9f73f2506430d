// id: account-profile
// name: Account profile
// description: Every signal entity one account uses (card, IP, device, email domain, template n-gram, and the
//   ASNs of its IPs) with its rarity: how many accounts share it, whether it is a hub (shared past its family's
//   cap, so it carries no link weight) and what it adds to each pair that shares it. Rarest first.
// params: account_id: string (example: acc_31e11cac)
// mode: read
MATCH (a:Account {account_id: $account_id})
CALL (a) {
  MATCH (a)-[u:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]->(e)
  RETURN labels(e)[0] AS kind,
         coalesce(e.instrument_id, e.address, e.device_id, e.domain, e.shingle_id) AS entity,
         e.text AS note, e.accounts AS accounts, e.hub AS hub, e.pair_weight AS pair_weight,
         coalesce(u.payments, u.requests, u.count) AS uses, u.first AS first, u.last AS last
  UNION ALL
  MATCH (a)-[u:USED_IP]->(:IP)-[:IN_ASN]->(n:ASN)
  RETURN 'ASN' AS kind, toString(n.number) AS entity,
         CASE WHEN n.hosting THEN 'hosting provider' END AS note, n.accounts AS accounts,
         true AS hub, 0.0 AS pair_weight, sum(u.requests) AS uses, min(u.first) AS first, max(u.last) AS last
}
RETURN a.account_id AS account_id, a.ring_id AS ring_id, kind, entity, note, accounts, hub, pair_weight, uses,
       first, last
ORDER BY pair_weight DESC, accounts, kind, entity
