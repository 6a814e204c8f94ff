// universality.unmatched_features: features of SAE A without any match in SAE B, densest first.
// @param saeA str  the SAE whose features are listed
// @param saeB str  the other SAE
// @param k int = 100  how many features
// @param runId str = null  only matches of this run (null: saeA's current run)
// @returns featureId, density
MATCH (sa:SAE {saeId: $saeA})
MATCH (a:Feature)
WHERE a.saeId = $saeA
OPTIONAL MATCH (a)-[m:MATCHES]-(b:Feature)
WHERE b.saeId = $saeB AND m.runId = coalesce($runId, sa.runId)
WITH a, count(m) AS nMatches
WHERE nMatches = 0
RETURN a.featureId AS featureId, a.density AS density
ORDER BY density DESC, featureId
LIMIT $k
