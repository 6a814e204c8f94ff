// _store.edges_cosine: every COSINE relationship, optionally of one SAE and one run.
// @param saeId str = null  only relationships touching this SAE
// @param runId str = null  only relationships of this run
// @returns source, target, saeId, similarity, rank, runId
MATCH (a:Feature)-[r:COSINE]->(b:Feature)
WHERE r.saeId = coalesce($saeId, r.saeId)
  AND r.runId = coalesce($runId, r.runId)
RETURN a.featureId AS source,
       b.featureId AS target,
       r.saeId AS saeId,
       r.similarity AS similarity,
       r.rank AS rank,
       r.runId AS runId
