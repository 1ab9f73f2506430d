// id: hubs
// name: Hubs left out of the evidence, and why
// description: Entities shared by more accounts than their family's cap (a carrier NAT address, a popular SDK
//   fingerprint, a public template): they are flagged hub and add nothing to any link. The cap itself is a run
//   parameter (rings.json params.families) and not stored in the graph, so the query shows the bound the graph
//   proves: the cap is at least the largest account count of a weighted entity of that kind and below the
//   smallest hub's count. Most shared first.
// params: limit: int (example: 50)
// mode: read
MATCH (e:PaymentInstrument|IP|Device|EmailDomain|PromptTemplate)
WITH labels(e)[0] AS kind, e
WITH kind, max(CASE WHEN e.pair_weight > 0 THEN e.accounts END) AS largest_weighted,
     min(CASE WHEN e.hub THEN e.accounts END) AS smallest_hub, collect(CASE WHEN e.hub THEN e END) AS hubs
UNWIND hubs AS h
RETURN kind, coalesce(h.text, h.instrument_id, h.address, h.device_id, h.domain, h.shingle_id) AS entity,
       h.accounts AS accounts, largest_weighted AS cap_at_least, smallest_hub - 1 AS cap_at_most,
       'shared by ' + toString(h.accounts) + ' accounts, past the ' + kind + ' cap (between '
         + coalesce(toString(largest_weighted), '?') + ' and ' + toString(smallest_hub - 1) + ')' AS why
ORDER BY accounts DESC, kind, entity
LIMIT $limit
