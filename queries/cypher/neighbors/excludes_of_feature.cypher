// neighbors.excludes_of_feature: the features that fire significantly rarely with one feature (EXCLUDES: mutually exclusive latents, the trace of feature splitting and absorption), most exclusive first.
// @param featureId str  feature id "saeId:index"
// @param k int = 5  how many neighbours
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @returns neighborId, exclusion, count, expected, qValue, topTokens
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)
MATCH (f)-[r:EXCLUDES]-(g:Feature)
WHERE r.runId = coalesce($runId, s.runId)
RETURN g.featureId AS neighborId, r.exclusion AS exclusion, r.count AS count, r.expected AS expected,
       r.qValue AS qValue, g.topTokens AS topTokens
ORDER BY r.exclusion DESC, r.expected DESC, neighborId
LIMIT $k
