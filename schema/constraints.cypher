// Neo4j uniqueness constraints: one on each id property (schema/model.md).
// Neo4j Community supports only uniqueness constraints. Idempotent (IF NOT EXISTS).
CREATE CONSTRAINT model_id IF NOT EXISTS FOR (m:Model) REQUIRE m.modelId IS UNIQUE;
CREATE CONSTRAINT sae_id IF NOT EXISTS FOR (s:SAE) REQUIRE s.saeId IS UNIQUE;
CREATE CONSTRAINT feature_id IF NOT EXISTS FOR (f:Feature) REQUIRE f.featureId IS UNIQUE;
CREATE CONSTRAINT dataset_id IF NOT EXISTS FOR (d:Dataset) REQUIRE d.datasetId IS UNIQUE;
CREATE CONSTRAINT run_id IF NOT EXISTS FOR (r:Run) REQUIRE r.runId IS UNIQUE;
