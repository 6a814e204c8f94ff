// universality.matches_of_feature: a feature's counterparts in every other SAE, best cosine first.
// @param featureId str  the feature id
// @returns matchId, saeId, cosine, actCorr, method, mutual
MATCH (f:Feature {featureId: $featureId})-[m:MATCHES]-(g:Feature)
RETURN g.featureId AS matchId, g.saeId AS saeId, m.cosine AS cosine, m.actCorr AS actCorr,
       m.method AS method, m.mutual AS mutual
ORDER BY cosine DESC, matchId
