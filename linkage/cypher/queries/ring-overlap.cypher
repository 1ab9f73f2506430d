// id: ring-overlap
// name: Rings that share evidence
// description: Pairs of rings whose members use the same weighted entities (not hubs) of any signal family: how
//   many they share, per family, the rarest few by name (template n-grams by their words) with how many accounts
//   use each, and each ring's operator. A tie between an attributed ring and an unattributed one is how an
//   operator's second campaign shows up. Most shared first.
// params: none
// mode: read
MATCH (e:Entity)
WHERE e.pair_weight > 0
MATCH (e)<--(:Account)-[:MEMBER_OF]->(r:Ring)
WITH e, collect(DISTINCT r) AS rings
WHERE size(rings) > 1
UNWIND rings AS r1
UNWIND rings AS r2
WITH r1, r2, e
WHERE r1.ring_id < r2.ring_id
WITH r1, r2, e ORDER BY e.accounts, e.family, e.key
WITH r1, r2, collect(e) AS shared
CALL (shared) {
  UNWIND shared AS e
  WITH e.family AS family, count(*) AS n
  ORDER BY n DESC, family
  RETURN collect(family + ' ' + toString(n)) AS by_family
}
RETURN r1.ring_id AS ring_a, r2.ring_id AS ring_b, size(shared) AS shared_entities, by_family,
       [e IN shared | e.family + ' ' + e.name + ' (' + toString(e.accounts) + ')'][..5] AS examples,
       coalesce(r1.operator, r1.operator_cluster) AS operator_a, coalesce(r2.operator, r2.operator_cluster) AS operator_b
ORDER BY shared_entities DESC, ring_a, ring_b
