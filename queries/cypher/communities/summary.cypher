// communities.summary: size and mean density of every community (reads the community<Type> write-back).
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph's communities
// @param saeId str = null  only this SAE
// @returns saeId, community, size, meanDensity
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (f:Feature)
WHERE f.saeId = s.saeId AND f.community{{relSuffix}} IS NOT NULL
RETURN f.saeId AS saeId, f.community{{relSuffix}} AS community, count(*) AS size, avg(f.density) AS meanDensity
ORDER BY saeId, size DESC, community
