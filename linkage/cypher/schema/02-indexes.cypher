// Lookups investigators and the loader make besides the keys.
CREATE INDEX account_created_at IF NOT EXISTS FOR (n:Account) ON (n.created_at);
CREATE INDEX account_ring_id IF NOT EXISTS FOR (n:Account) ON (n.ring_id);
CREATE INDEX account_email_domain IF NOT EXISTS FOR (n:Account) ON (n.email_domain);
CREATE INDEX ring_score IF NOT EXISTS FOR (n:Ring) ON (n.score);
CREATE INDEX indicator_kind_value IF NOT EXISTS FOR (n:Indicator) ON (n.kind, n.value);
CREATE INDEX payment_bin IF NOT EXISTS FOR (n:PaymentInstrument) ON (n.bin);
CREATE INDEX linked_weight IF NOT EXISTS FOR ()-[r:LINKED]-() ON (r.weight);
// Any family's entity by its key or its name (a template n-gram's words): entity-lookup.
CREATE INDEX entity_key IF NOT EXISTS FOR (n:Entity) ON (n.key);
CREATE INDEX entity_name IF NOT EXISTS FOR (n:Entity) ON (n.name);
