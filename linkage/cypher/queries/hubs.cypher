// id: hubs
// name: Hubs left out of the evidence, and why
// description: Entities of any signal family shared by more accounts than their family's cap (a carrier NAT
//   address, a popular SDK fingerprint, a public template): they are flagged hub and add nothing to any link.
//   The cap is the run's own (stored on every entity) and absolute: a device that 84 members of one ring share
//   is a hub past a device cap of 60 even though no outsider uses it. in_rings says how many of its accounts are
//   ring members. Template n-grams show their words. Most shared first.
// params: limit: int (example: 50)
// mode: read
MATCH (e:Entity)
WHERE e.hub
WITH e ORDER BY e.accounts DESC, e.family, e.key
LIMIT $limit
RETURN e.family AS family, e.key AS entity, e.name AS name, e.accounts AS accounts, e.cap AS cap,
       COUNT { (e)<--(x:Account) WHERE x.ring_id IS NOT NULL } AS in_rings,
       'shared by ' + toString(e.accounts) + ' accounts, past the ' + e.family + ' cap of ' + toString(e.cap)
         + ': carries no weight' AS why
ORDER BY accounts DESC, family, entity
