// _store.edges_matches: every MATCHES relationship, optionally of one SAE (either end) and one run.
// @param saeId str = null  only relationships touching this SAE
// @param runId str = null  only relationships of this run (null: each SAE's current run, the last loaded)
// @returns source, target, sourceSae, targetSae, cosine, actCorr, method, mutual, rank, runId
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (a:Feature)-[r:MATCHES]->(b:Feature)
WHERE a.saeId = s.saeId AND r.runId = coalesce($runId, s.runId)
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
UNION ALL
MATCH (s:SAE)
WHERE s.saeId = $saeId
MATCH (a:Feature)-[r:MATCHES]->(b:Feature)
WHERE b.saeId = s.saeId AND r.runId = coalesce($runId, s.runId)
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
