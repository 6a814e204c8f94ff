// _store.edges_lasso: every LASSO relationship, optionally of one SAE and one run.
// @param saeId str = null  only relationships touching this SAE
// @param runId str = null  only relationships of this run (null: each SAE's current run, the last loaded)
// @returns source, target, saeId, weight, stability, nReplicates, nullReplicates, pValue, qValue, runId
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (a:Feature)-[r:LASSO]->(b:Feature)
WHERE a.saeId = s.saeId AND r.runId = coalesce($runId, s.runId)
RETURN a.featureId AS source,
       b.featureId AS target,
       r.saeId AS saeId,
       r.weight AS weight,
       r.stability AS stability,
       r.nReplicates AS nReplicates,
       r.nullReplicates AS nullReplicates,
       r.pValue AS pValue,
       r.qValue AS qValue,
       r.runId AS runId
