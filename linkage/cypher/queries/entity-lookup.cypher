// id: entity-lookup
// name: What touches an entity
// description: The accounts using one card, IP, device, email domain or template n-gram (kind: card, ip, device,
//   domain, template; a template is looked up by its 16-hex shingle id), with the entity's rarity, each
//   account's use of it and its ring. The label comes from a fixed branch per kind, never from the input.
// params:
//   kind: string (example: card; one of: card, ip, device, domain, template)
//   value: string (example: tok_qpCyY6IFCt9FXl0d)
// mode: read
// bloom: what touches $kind $value
CALL () {
  MATCH (e:PaymentInstrument {instrument_id: $value}) WHERE $kind = 'card' RETURN e
  UNION
  MATCH (e:IP {address: $value}) WHERE $kind = 'ip' RETURN e
  UNION
  MATCH (e:Device {device_id: $value}) WHERE $kind = 'device' RETURN e
  UNION
  MATCH (e:EmailDomain {domain: $value}) WHERE $kind = 'domain' RETURN e
  UNION
  MATCH (e:PromptTemplate {shingle_id: $value}) WHERE $kind = 'template' RETURN e
}
MATCH (a:Account)-[u:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]->(e)
RETURN a AS account, u AS uses, e AS entity, e.accounts AS accounts, e.hub AS hub, e.pair_weight AS pair_weight,
       coalesce(u.payments, u.requests, u.count) AS count, u.first AS first, u.last AS last,
       a.created_at AS created_at, a.ring_id AS ring_id
ORDER BY ring_id, a.account_id
