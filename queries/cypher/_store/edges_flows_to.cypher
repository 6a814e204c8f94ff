// _store.edges_flows_to: every FLOWS_TO relationship, optionally of one SAE (either end) and one run.
// @param saeId str = null  only relationships touching this SAE
// @param runId str = null  only relationships of this run (null: each SAE's current run, the last loaded)
// @returns source, target, sourceSae, targetSae, sourceLayer, targetLayer, cosine, rank, pTargetGivenSource, actCorr, runId
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (a:Feature)-[r:FLOWS_TO]->(b:Feature)
WHERE a.saeId = s.saeId AND r.runId = coalesce($runId, s.runId)
RETURN a.featureId AS source,
       b.featureId AS target,
       r.sourceSae AS sourceSae,
       r.targetSae AS targetSae,
       r.sourceLayer AS sourceLayer,
       r.targetLayer AS targetLayer,
       r.cosine AS cosine,
       r.rank AS rank,
       r.pTargetGivenSource AS pTargetGivenSource,
       r.actCorr AS actCorr,
       r.runId AS runId
UNION ALL
MATCH (s:SAE)
WHERE s.saeId = $saeId
MATCH (a:Feature)-[r:FLOWS_TO]->(b:Feature)
WHERE b.saeId = s.saeId AND r.runId = coalesce($runId, s.runId)
RETURN a.featureId AS source,
       b.featureId AS target,
       r.sourceSae AS sourceSae,
       r.targetSae AS targetSae,
       r.sourceLayer AS sourceLayer,
       r.targetLayer AS targetLayer,
       r.cosine AS cosine,
       r.rank AS rank,
       r.pTargetGivenSource AS pTargetGivenSource,
       r.actCorr AS actCorr,
       r.runId AS runId
