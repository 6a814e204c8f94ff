// universality.unmatched_features: features of SAE A without any match in SAE B, densest first.
// @param saeA str  the SAE whose features are listed
// @param saeB str  the other SAE
// @param k int = 100  how many features
// @returns featureId, density
MATCH (a:Feature)
WHERE a.saeId = $saeA
OPTIONAL MATCH (a)-[m:MATCHES]-(b:Feature)
WHERE b.saeId = $saeB
WITH a, count(m) AS nMatches
WHERE nMatches = 0
RETURN a.featureId AS featureId, a.density AS density
ORDER BY density DESC, featureId
LIMIT $k
