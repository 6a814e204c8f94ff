// neighbors.lasso_of_feature: the most stable LASSO neighbours of one feature, with the signed coefficient (feature cards).
// @param featureId str  feature id "saeId:index"
// @param k int = 5  how many neighbours
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @returns neighborId, weight, stability, qValue, topTokens
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)
MATCH (f)-[r:LASSO]-(g:Feature)
WHERE r.runId = coalesce($runId, s.runId)
RETURN g.featureId AS neighborId, r.weight AS weight, r.stability AS stability, r.qValue AS qValue,
       g.topTokens AS topTokens
ORDER BY stability DESC, abs(r.weight) DESC, neighborId
LIMIT $k
