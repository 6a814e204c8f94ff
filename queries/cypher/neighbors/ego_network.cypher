// neighbors.ego_network: every relationship among a feature and its direct neighbours (its ego network).
// @param featureId str  the centre feature id
// @param relType RelType  relationship type
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @returns source, target, weight
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)
WITH f, coalesce($runId, s.runId) AS run
MATCH (f)-[r0:{{relType}}]-(g:Feature)
WHERE r0.runId = run
WITH f, run, collect(g.featureId) AS ids
WITH run, ids + [f.featureId] AS ids
UNWIND ids AS id
MATCH (a:Feature {featureId: id})-[r:{{relType}}]->(b:Feature)
WHERE b.featureId IN ids AND r.runId = run
RETURN a.featureId AS source, b.featureId AS target, r.{{relWeight}} AS weight
ORDER BY source, target
