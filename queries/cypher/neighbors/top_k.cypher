// neighbors.top_k: the k strongest neighbours of one feature by one relationship type.
// Strength = |weight|, weight = npmi (CO_ACTIVATES), weight (LASSO), similarity (COSINE), cosine (MATCHES).
// @param featureId str  feature id "saeId:index"
// @param relType RelType  relationship type
// @param k int = 10  how many neighbours
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @returns neighborId, index, weight, strength, topTokens
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)
MATCH (f)-[r:{{relType}}]-(g:Feature)
WHERE r.runId = coalesce($runId, s.runId)
RETURN g.featureId AS neighborId, g.`index` AS `index`, r.{{relWeight}} AS weight,
       abs(r.{{relWeight}}) AS strength, g.topTokens AS topTokens
ORDER BY strength DESC, neighborId
LIMIT $k
