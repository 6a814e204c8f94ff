// lookup.features_by_sae: a page of one SAE's features in latent order, optionally only the denser ones.
// @param saeId str  the SAE id
// @param minDensity float = 0.0  keep features with density >= this (firings / token)
// @param skip int = 0  rows to skip (paging)
// @param limit int = 100  page size
// @returns featureId, index, density, maxAct, dead, topTokens
MATCH (f:Feature)
WHERE f.saeId = $saeId AND f.density >= $minDensity
RETURN f.featureId AS featureId, f.`index` AS `index`, f.density AS density, f.maxAct AS maxAct,
       f.dead AS dead, f.topTokens AS topTokens
ORDER BY `index`
SKIP $skip
LIMIT $limit
