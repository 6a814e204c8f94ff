// compare.degree_distribution: how many features of one SAE have each degree (zero included).
// @param relType RelType  relationship type
// @param saeId str  the SAE id
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @returns degree, nFeatures
MATCH (s:SAE {saeId: $saeId})
MATCH (f:Feature)
WHERE f.saeId = s.saeId
OPTIONAL MATCH (f)-[r:{{relType}}]-(:Feature)
WHERE r.runId = coalesce($runId, s.runId)
WITH f, count(r) AS degree
RETURN degree, count(*) AS nFeatures
ORDER BY degree
