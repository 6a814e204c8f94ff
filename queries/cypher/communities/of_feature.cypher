// communities.of_feature: the other members of a feature's community, densest first.
// @param featureId str  the feature id
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph's communities
// @param k int = 20  how many members
// @returns featureId, community, density
MATCH (f:Feature {featureId: $featureId})
MATCH (g:Feature)
WHERE g.saeId = f.saeId AND g.community{{relSuffix}} = f.community{{relSuffix}} AND g.featureId <> f.featureId
RETURN g.featureId AS featureId, g.community{{relSuffix}} AS community, g.density AS density
ORDER BY density DESC, featureId
LIMIT $k
