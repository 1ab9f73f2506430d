// id: ring-members
// name: Ring members and the infrastructure they share
// description: One row per member of the ring: sign-up time, requests, and the weighted entities (not hubs) it
//   shares with at least one other member of the same ring, with how many members share each.
// params: ring_id: string (example: ring-6339b13725c3)
// mode: read
MATCH (r:Ring {ring_id: $ring_id})<-[:MEMBER_OF]-(m:Account)
OPTIONAL MATCH (m)-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]->(e)
WHERE e.pair_weight > 0
WITH r, m, e,
     CASE WHEN e IS NULL THEN 0
          ELSE COUNT { (e)<-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]-(:Account)-[:MEMBER_OF]->(r) }
     END AS members
WITH m, collect(CASE WHEN members >= 2 THEN [labels(e)[0], toString(members),
                     coalesce(e.text, e.instrument_id, e.address, e.device_id, e.domain, e.shingle_id)] END) AS shared
RETURN m.account_id AS account_id, m.created_at AS created_at, m.requests AS requests,
       size(shared) AS shared_entities,
       size([s IN shared WHERE s[0] = 'PaymentInstrument']) AS cards,
       size([s IN shared WHERE s[0] = 'IP']) AS ips,
       size([s IN shared WHERE s[0] = 'Device']) AS devices,
       size([s IN shared WHERE s[0] = 'EmailDomain']) AS email_domains,
       size([s IN shared WHERE s[0] = 'PromptTemplate']) AS template_ngrams,
       [s IN shared WHERE s[0] <> 'PromptTemplate' | s[0] + ' ' + s[2] + ' (' + s[1] + ')'][..6] AS infrastructure
ORDER BY account_id
