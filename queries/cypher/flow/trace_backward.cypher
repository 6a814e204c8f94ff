// flow.trace_backward: the earlier-layer features that flow into a feature, up to `hops` layers back (FLOWS_TO with cosine >= minCosine, one run).
// @param featureId str  start feature id
// @param hops int = 3  layers to follow (at most 8)
// @param minCosine float = 0.5  decoder-cosine floor of every step
// @param runId str = null  only relationships of this run (null: the current run of the feature's SAE)
// @returns featureId, saeId, layer, hops
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)
WITH f, coalesce($runId, s.runId) AS run
MATCH p = (f)<-[rs:FLOWS_TO*1..8]-(g:Feature)
WHERE length(p) <= $hops AND all(r IN rs WHERE r.runId = run AND r.cosine >= $minCosine)
WITH g, min(length(p)) AS hops
MATCH (g)-[:IN_SAE]->(t:SAE)
RETURN g.featureId AS featureId, t.saeId AS saeId, t.layer AS layer, hops
ORDER BY layer DESC, featureId
