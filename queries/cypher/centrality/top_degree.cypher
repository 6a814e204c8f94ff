// centrality.top_degree: the k features with the most relationships of one type (computed live), with their strength.
// @param relType RelType  relationship type
// @param saeId str = null  only features of this SAE
// @param k int = 10  how many features
// @returns featureId, degree, strength
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (f:Feature)-[r:{{relType}}]-(:Feature)
WHERE f.saeId = s.saeId
RETURN f.featureId AS featureId, count(r) AS degree, sum(abs(r.{{relWeight}})) AS strength
ORDER BY degree DESC, featureId
LIMIT $k
