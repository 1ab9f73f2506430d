// id: entity-lookup
// name: What touches an entity
// description: The accounts using one entity of any signal family, found by its key (a card token, an IP
//   address, a device fingerprint, an email domain, a template n-gram's id) or by its name (a template n-gram's
//   words, e.g. 'include docstrings for every'), with the entity's family, rarity and cap, each account's use of
//   it and its ring. The example is a card of the fixture world; `linkage query run account-profile` or `hubs`
//   shows entities of yours.
// params: value: string (example: tok_qpCyY6IFCt9FXl0d)
// mode: read
// bloom: what touches $value
CALL () {
  MATCH (e:Entity {key: $value}) RETURN e
  UNION
  MATCH (e:Entity {name: $value}) RETURN e
}
MATCH (a:Account)-[u]->(e)
RETURN a AS account, type(u) AS uses, e AS entity, e.family AS family, e.name AS name, e.accounts AS accounts,
       e.hub AS hub, e.cap AS cap, e.pair_weight AS pair_weight,
       head([k IN keys(u) WHERE NOT k IN ['first', 'last'] | u[k]]) AS count, u.first AS first, u.last AS last,
       a.created_at AS created_at, a.ring_id AS ring_id
ORDER BY ring_id, a.account_id
