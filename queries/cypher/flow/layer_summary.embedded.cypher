// flow.layer_summary (embedded): the floor is applied after a projection. LadybugDB miscounted this pattern (both endpoints joined to their SAE) when the relationship-property filter sat in the MATCH's WHERE: 105 edges instead of 97 on the parity bundle (tests/integration/test_query_parity.py).
MATCH (sa:SAE)<-[:IN_SAE]-(a:Feature)-[r:FLOWS_TO]->(b:Feature)-[:IN_SAE]->(sb:SAE)
WITH sa, sb, a, b, r, r.cosine AS cosine, r.runId AS run
WHERE run = coalesce($runId, sa.runId) AND cosine >= $minCosine
WITH sa, sb, r.sourceLayer AS sourceLayer, r.targetLayer AS targetLayer, count(r) AS edges,
     count(DISTINCT a.featureId) AS continuing, count(DISTINCT b.featureId) AS reached,
     avg(cosine) AS meanCosine, avg(r.pTargetGivenSource) AS meanP
RETURN sa.saeId AS sourceSae, sb.saeId AS targetSae, sourceLayer, targetLayer, edges,
       1.0 * continuing / sa.dSae AS continuingFraction, 1.0 - 1.0 * reached / sb.dSae AS bornFraction,
       meanCosine, meanP AS meanPTargetGivenSource
ORDER BY sourceLayer, sourceSae, targetSae
