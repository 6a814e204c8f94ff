// communities.members: the features of one community, densest first.
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph's communities
// @param saeId str  the SAE id
// @param community int  the community id
// @param k int = 100  how many members
// @returns featureId, index, density, topTokens
MATCH (f:Feature)
WHERE f.saeId = $saeId AND f.community{{relSuffix}} = $community
RETURN f.featureId AS featureId, f.`index` AS `index`, f.density AS density, f.topTokens AS topTokens
ORDER BY density DESC, featureId
LIMIT $k
