// lookup.search_top_token: features whose top tokens include a token, strongest (maxAct) first.
// @param token str  the token string exactly as stored in topTokens
// @param saeId str = null  only this SAE (all SAEs when null)
// @param k int = 20  how many features
// @returns featureId, saeId, index, maxAct, density, topTokens
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (f:Feature)
WHERE f.saeId = s.saeId AND $token IN f.topTokens
RETURN f.featureId AS featureId, f.saeId AS saeId, f.`index` AS `index`, f.maxAct AS maxAct,
       f.density AS density, f.topTokens AS topTokens
ORDER BY maxAct DESC, featureId
LIMIT $k
