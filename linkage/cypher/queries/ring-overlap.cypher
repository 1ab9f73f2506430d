// id: ring-overlap
// name: Rings that share infrastructure
// description: Pairs of rings whose members use the same weighted entities (not hubs): how many they share, of
//   which kinds, a few examples, and each ring's operator. A tie between an attributed ring and an unattributed
//   one is how an operator's second campaign shows up. Most shared first.
// params: none
// mode: read
MATCH (e:PaymentInstrument|IP|Device|EmailDomain|PromptTemplate)
WHERE e.pair_weight > 0
MATCH (e)<-[:PAID_WITH|USED_IP|USED_DEVICE|HAS_EMAIL_DOMAIN|REUSED]-(:Account)-[:MEMBER_OF]->(r:Ring)
WITH e, collect(DISTINCT r) AS rings
WHERE size(rings) > 1
UNWIND rings AS r1
UNWIND rings AS r2
WITH r1, r2, e
WHERE r1.ring_id < r2.ring_id
WITH r1, r2, collect(e) AS shared
RETURN r1.ring_id AS ring_a, r2.ring_id AS ring_b, size(shared) AS shared_entities,
       size([e IN shared WHERE e:PaymentInstrument]) AS cards, size([e IN shared WHERE e:IP]) AS ips,
       size([e IN shared WHERE e:Device]) AS devices, size([e IN shared WHERE e:EmailDomain]) AS email_domains,
       size([e IN shared WHERE e:PromptTemplate]) AS template_ngrams,
       [e IN shared WHERE NOT e:PromptTemplate |
          labels(e)[0] + ' ' + coalesce(e.instrument_id, e.address, e.device_id, e.domain)][..5] AS examples,
       coalesce(r1.operator, r1.operator_cluster) AS operator_a, coalesce(r2.operator, r2.operator_cluster) AS operator_b
ORDER BY shared_entities DESC, ring_a, ring_b
