// neighbors.co_activates_of_feature: the strongest CO_ACTIVATES neighbours of one feature with their statistics (feature cards).
// @param featureId str  feature id "saeId:index"
// @param k int = 5  how many neighbours
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @returns neighborId, npmi, count, qValue, topTokens
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)
MATCH (f)-[r:CO_ACTIVATES]-(g:Feature)
WHERE r.runId = coalesce($runId, s.runId)
RETURN g.featureId AS neighborId, r.npmi AS npmi, r.count AS count, r.qValue AS qValue,
       g.topTokens AS topTokens
ORDER BY abs(r.npmi) DESC, neighborId
LIMIT $k
