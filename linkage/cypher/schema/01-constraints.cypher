// Unique constraints on every node key of linkage/store/model.py (each also gives an index).
CREATE CONSTRAINT account_id IF NOT EXISTS FOR (n:Account) REQUIRE n.account_id IS UNIQUE;
CREATE CONSTRAINT payment_instrument_id IF NOT EXISTS FOR (n:PaymentInstrument) REQUIRE n.instrument_id IS UNIQUE;
CREATE CONSTRAINT ip_address IF NOT EXISTS FOR (n:IP) REQUIRE n.address IS UNIQUE;
CREATE CONSTRAINT asn_number IF NOT EXISTS FOR (n:ASN) REQUIRE n.number IS UNIQUE;
CREATE CONSTRAINT device_id IF NOT EXISTS FOR (n:Device) REQUIRE n.device_id IS UNIQUE;
CREATE CONSTRAINT email_domain IF NOT EXISTS FOR (n:EmailDomain) REQUIRE n.domain IS UNIQUE;
CREATE CONSTRAINT prompt_template_id IF NOT EXISTS FOR (n:PromptTemplate) REQUIRE n.shingle_id IS UNIQUE;
CREATE CONSTRAINT network_prefix IF NOT EXISTS FOR (n:NetworkPrefix) REQUIRE n.prefix IS UNIQUE;
CREATE CONSTRAINT fuzzy_template_band IF NOT EXISTS FOR (n:FuzzyTemplate) REQUIRE n.band IS UNIQUE;
CREATE CONSTRAINT ring_id IF NOT EXISTS FOR (n:Ring) REQUIRE n.ring_id IS UNIQUE;
CREATE CONSTRAINT operation_id IF NOT EXISTS FOR (n:Operation) REQUIRE n.operation_id IS UNIQUE;
CREATE CONSTRAINT operator_name IF NOT EXISTS FOR (n:Operator) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT indicator_id IF NOT EXISTS FOR (n:Indicator) REQUIRE n.indicator_id IS UNIQUE;
CREATE CONSTRAINT load_lock_name IF NOT EXISTS FOR (n:LoadLock) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT load_batch_id IF NOT EXISTS FOR (n:LoadBatch) REQUIRE n.batch_id IS UNIQUE;
