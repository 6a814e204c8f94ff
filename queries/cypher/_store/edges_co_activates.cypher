// _store.edges_co_activates: every CO_ACTIVATES relationship, optionally of one SAE and one run.
// @param saeId str = null  only relationships touching this SAE
// @param runId str = null  only relationships of this run (null: each SAE's current run, the last loaded)
// @returns source, target, saeId, count, jaccard, npmi, phi, pTargetGivenSource, pSourceGivenTarget, pearson, pValue, qValue, runId
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (a:Feature)-[r:CO_ACTIVATES]->(b:Feature)
WHERE a.saeId = s.saeId AND r.runId = coalesce($runId, s.runId)
RETURN a.featureId AS source,
       b.featureId AS target,
       r.saeId AS saeId,
       r.count AS count,
       r.jaccard AS jaccard,
       r.npmi AS npmi,
       r.phi AS phi,
       r.pTargetGivenSource AS pTargetGivenSource,
       r.pSourceGivenTarget AS pSourceGivenTarget,
       r.pearson AS pearson,
       r.pValue AS pValue,
       r.qValue AS qValue,
       r.runId AS runId
