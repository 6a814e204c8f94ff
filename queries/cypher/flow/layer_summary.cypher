// flow.layer_summary: one row per (earlier SAE, later SAE) pair of a run: FLOWS_TO edges at cosine >= minCosine, the share of the earlier SAE's latents that continue and of the later SAE's that are born (no such predecessor), their mean cosine and mean P(later fires | earlier fires).
// @param minCosine float = 0.5  decoder-cosine floor of the counted edges
// @param runId str = null  only relationships of this run (null: each earlier SAE's current run)
// @returns sourceSae, targetSae, sourceLayer, targetLayer, edges, continuingFraction, bornFraction, meanCosine, meanPTargetGivenSource
MATCH (sa:SAE)<-[:IN_SAE]-(a:Feature)-[r:FLOWS_TO]->(b:Feature)-[:IN_SAE]->(sb:SAE)
WHERE r.runId = coalesce($runId, sa.runId) AND r.cosine >= $minCosine
WITH sa, sb, r.sourceLayer AS sourceLayer, r.targetLayer AS targetLayer, count(r) AS edges,
     count(DISTINCT a.featureId) AS continuing, count(DISTINCT b.featureId) AS reached,
     avg(r.cosine) AS meanCosine, avg(r.pTargetGivenSource) AS meanP
RETURN sa.saeId AS sourceSae, sb.saeId AS targetSae, sourceLayer, targetLayer, edges,
       1.0 * continuing / sa.dSae AS continuingFraction, 1.0 - 1.0 * reached / sb.dSae AS bornFraction,
       meanCosine, meanP AS meanPTargetGivenSource
ORDER BY sourceLayer, sourceSae, targetSae
