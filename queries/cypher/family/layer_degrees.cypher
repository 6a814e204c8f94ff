// family.layer_degrees: per SAE, its layer and width, features and live (not dead) features, CO_ACTIVATES relationships, and the mean (over live features) and max CO_ACTIVATES degree.
// @param runId str = null  only relationships of this run (null: each SAE's current run, the last loaded)
// @returns saeId, layer, dSae, nFeatures, nLive, coActivatesEdges, meanDegree, maxDegree
MATCH (s:SAE)
MATCH (f:Feature)
WHERE f.saeId = s.saeId
OPTIONAL MATCH (f)-[r:CO_ACTIVATES]-(:Feature)
WHERE r.runId = coalesce($runId, s.runId)
WITH s, f, count(r) AS degree
WITH s, count(f) AS nFeatures, count(CASE WHEN f.dead THEN null ELSE 1 END) AS nLive, sum(degree) AS degreeSum,
     max(degree) AS maxDegree
RETURN s.saeId AS saeId, s.layer AS layer, s.dSae AS dSae, nFeatures, nLive, degreeSum / 2 AS coActivatesEdges,
       CASE WHEN nLive > 0 THEN 1.0 * degreeSum / nLive END AS meanDegree, maxDegree
ORDER BY layer, saeId
