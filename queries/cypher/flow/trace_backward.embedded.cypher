// flow.trace_backward (embedded): a recursive pattern whose predicate sees only parameters, so a null runId is resolved before the statement runs.
// @current-run featureId
MATCH p = (f:Feature {featureId: $featureId})<-[:FLOWS_TO* 1..8 (r, n | WHERE r.runId = $runId AND r.cosine >= $minCosine)]-(g:Feature)
WHERE length(p) <= $hops
WITH g, min(length(p)) AS hops
MATCH (g)-[:IN_SAE]->(t:SAE)
RETURN g.featureId AS featureId, t.saeId AS saeId, t.layer AS layer, hops
ORDER BY layer DESC, featureId
