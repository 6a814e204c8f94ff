// communities.summary: size and mean density of every community (reads the community<Type> write-back).
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph's communities
// @param saeId str = null  only this SAE
// @returns saeId, community, size, meanDensity
MATCH (f:Feature)
WHERE f.community{{relSuffix}} IS NOT NULL AND f.saeId = coalesce($saeId, f.saeId)
RETURN f.saeId AS saeId, f.community{{relSuffix}} AS community, count(*) AS size, avg(f.density) AS meanDensity
ORDER BY saeId, size DESC, community
