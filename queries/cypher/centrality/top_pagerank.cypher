// centrality.top_pagerank: the k features with the highest PageRank (reads the pagerank<Type> write-back).
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph
// @param saeId str = null  only this SAE
// @param k int = 10  how many features
// @returns featureId, saeId, pagerank, topTokens
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (f:Feature)
WHERE f.saeId = s.saeId AND f.pagerank{{relSuffix}} IS NOT NULL
RETURN f.featureId AS featureId, f.saeId AS saeId, f.pagerank{{relSuffix}} AS pagerank, f.topTokens AS topTokens
ORDER BY pagerank DESC, featureId
LIMIT $k
