// paths.two_hop_reach: how many distinct features lie within one and within two hops of a feature.
// @param featureId str  the start feature id
// @param relType RelType  relationship type walked (undirected)
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @returns featureId, nWithin1, nWithin2
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)
WITH f, coalesce($runId, s.runId) AS run
OPTIONAL MATCH (f)-[r1:{{relType}}]-(g:Feature)
WHERE r1.runId = run
OPTIONAL MATCH (g)-[r2:{{relType}}]-(h:Feature)
WHERE r2.runId = run AND h.featureId <> f.featureId
WITH f, collect(DISTINCT g.featureId) AS ones, collect(DISTINCT h.featureId) AS twos
UNWIND ones + twos + [f.featureId] AS x
WITH f, ones, count(DISTINCT x) AS n
RETURN f.featureId AS featureId, size(ones) AS nWithin1, n - 1 AS nWithin2
