// neighbors.common: features adjacent to both of two features by one relationship type.
// @param featureA str  first feature id
// @param featureB str  second feature id
// @param relType RelType  relationship type
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @returns neighborId, weightA, weightB
MATCH (a:Feature {featureId: $featureA})-[:IN_SAE]->(s:SAE)
WITH a, coalesce($runId, s.runId) AS run
MATCH (a)-[ra:{{relType}}]-(g:Feature)-[rb:{{relType}}]-(b:Feature {featureId: $featureB})
WHERE g.featureId <> a.featureId AND g.featureId <> b.featureId AND ra.runId = run AND rb.runId = run
RETURN g.featureId AS neighborId, ra.{{relWeight}} AS weightA, rb.{{relWeight}} AS weightB
ORDER BY neighborId
