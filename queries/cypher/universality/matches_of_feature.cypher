// universality.matches_of_feature: a feature's counterparts in every other SAE, best cosine first.
// @param featureId str  the feature id
// @param runId str = null  only matches of this run (null: the feature's SAE's current run)
// @returns matchId, saeId, cosine, actCorr, method, mutual
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)
MATCH (f)-[m:MATCHES]-(g:Feature)
WHERE m.runId = coalesce($runId, s.runId)
RETURN g.featureId AS matchId, g.saeId AS saeId, m.cosine AS cosine, m.actCorr AS actCorr,
       m.method AS method, m.mutual AS mutual
ORDER BY cosine DESC, matchId, method
