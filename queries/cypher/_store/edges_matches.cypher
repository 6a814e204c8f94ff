// _store.edges_matches: every MATCHES relationship, optionally of one SAE and one run.
// @param saeId str = null  only relationships touching this SAE
// @param runId str = null  only relationships of this run
// @returns source, target, sourceSae, targetSae, cosine, actCorr, method, mutual, rank, runId
MATCH (a:Feature)-[r:MATCHES]->(b:Feature)
WHERE coalesce($saeId, r.sourceSae) IN [r.sourceSae, r.targetSae]
  AND r.runId = coalesce($runId, r.runId)
RETURN a.featureId AS source,
       b.featureId AS target,
       r.sourceSae AS sourceSae,
       r.targetSae AS targetSae,
       r.cosine AS cosine,
       r.actCorr AS actCorr,
       r.method AS method,
       r.mutual AS mutual,
       r.rank AS rank,
       r.runId AS runId
