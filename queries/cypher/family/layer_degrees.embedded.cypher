// family.layer_degrees (embedded): the same, with the degree sum cast back to an integer (LadybugDB's sum of integers is a 128-bit integer, read as a float).
MATCH (s:SAE)
MATCH (f:Feature)
WHERE f.saeId = s.saeId
OPTIONAL MATCH (f)-[r:CO_ACTIVATES]-(:Feature)
WHERE r.runId = coalesce($runId, s.runId)
WITH s, f, count(r) AS degree
WITH s, count(f) AS nFeatures, count(CASE WHEN f.dead THEN null ELSE 1 END) AS nLive, sum(degree) AS degreeSum,
     max(degree) AS maxDegree
RETURN s.saeId AS saeId, s.layer AS layer, s.dSae AS dSae, nFeatures, nLive, CAST(degreeSum / 2 AS INT64) AS coActivatesEdges,
       CASE WHEN nLive > 0 THEN 1.0 * degreeSum / nLive END AS meanDegree, maxDegree
ORDER BY layer, saeId
