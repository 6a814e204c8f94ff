// compare.degree_distribution: how many features of one SAE have each degree (zero included).
// @param relType RelType  relationship type
// @param saeId str  the SAE id
// @returns degree, nFeatures
MATCH (f:Feature)
WHERE f.saeId = $saeId
OPTIONAL MATCH (f)-[r:{{relType}}]-(:Feature)
WITH f, count(r) AS degree
RETURN degree, count(*) AS nFeatures
ORDER BY degree
