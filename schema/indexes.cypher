// Neo4j range indexes: feature lookups by SAE and latent index, relationships by run.
// Idempotent (IF NOT EXISTS). `index` is backticked: reserved in the embedded engine.
CREATE INDEX feature_sae IF NOT EXISTS FOR (f:Feature) ON (f.saeId);
CREATE INDEX feature_index IF NOT EXISTS FOR (f:Feature) ON (f.`index`);
CREATE INDEX feature_sae_index IF NOT EXISTS FOR (f:Feature) ON (f.saeId, f.`index`);
CREATE INDEX co_activates_run IF NOT EXISTS FOR ()-[r:CO_ACTIVATES]-() ON (r.runId);
CREATE INDEX excludes_run IF NOT EXISTS FOR ()-[r:EXCLUDES]-() ON (r.runId);
CREATE INDEX lasso_run IF NOT EXISTS FOR ()-[r:LASSO]-() ON (r.runId);
CREATE INDEX cosine_run IF NOT EXISTS FOR ()-[r:COSINE]-() ON (r.runId);
CREATE INDEX matches_run IF NOT EXISTS FOR ()-[r:MATCHES]-() ON (r.runId);
CREATE INDEX flows_to_run IF NOT EXISTS FOR ()-[r:FLOWS_TO]-() ON (r.runId);
CREATE INDEX co_activates_sae IF NOT EXISTS FOR ()-[r:CO_ACTIVATES]-() ON (r.saeId);
CREATE INDEX excludes_sae IF NOT EXISTS FOR ()-[r:EXCLUDES]-() ON (r.saeId);
CREATE INDEX lasso_sae IF NOT EXISTS FOR ()-[r:LASSO]-() ON (r.saeId);
CREATE INDEX cosine_sae IF NOT EXISTS FOR ()-[r:COSINE]-() ON (r.saeId);
