// _store.edges_excludes: every EXCLUDES relationship, optionally of one SAE and one run.
// @param saeId str = null  only relationships touching this SAE
// @param runId str = null  only relationships of this run (null: each SAE's current run, the last loaded)
// @returns source, target, saeId, count, expected, oddsRatio, exclusion, npmi, pValue, qValue, runId
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (a:Feature)-[r:EXCLUDES]->(b:Feature)
WHERE a.saeId = s.saeId AND r.runId = coalesce($runId, s.runId)
RETURN a.featureId AS source,
       b.featureId AS target,
       r.saeId AS saeId,
       r.count AS count,
       r.expected AS expected,
       r.oddsRatio AS oddsRatio,
       r.exclusion AS exclusion,
       r.npmi AS npmi,
       r.pValue AS pValue,
       r.qValue AS qValue,
       r.runId AS runId
