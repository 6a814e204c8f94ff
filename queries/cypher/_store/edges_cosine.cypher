// _store.edges_cosine: every COSINE relationship, optionally of one SAE and one run.
// @param saeId str = null  only relationships touching this SAE
// @param runId str = null  only relationships of this run (null: each SAE's current run, the last loaded)
// @returns source, target, saeId, similarity, rank, runId
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (a:Feature)-[r:COSINE]->(b:Feature)
WHERE a.saeId = s.saeId AND r.runId = coalesce($runId, s.runId)
RETURN a.featureId AS source,
       b.featureId AS target,
       r.saeId AS saeId,
       r.similarity AS similarity,
       r.rank AS rank,
       r.runId AS runId
