// centrality.top_strength: the k features with the largest weighted degree (reads the strength<Type> write-back).
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph
// @param saeId str = null  only this SAE
// @param k int = 10  how many features
// @returns featureId, saeId, strength, degree
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (f:Feature)
WHERE f.saeId = s.saeId AND f.strength{{relSuffix}} IS NOT NULL
RETURN f.featureId AS featureId, f.saeId AS saeId, f.strength{{relSuffix}} AS strength, f.degree{{relSuffix}} AS degree
ORDER BY strength DESC, featureId
LIMIT $k
