// gds.project_sae: project one SAE's features and one within-SAE relationship type as an undirected GDS graph (isolated features kept); relationship properties weight, cost, hop.
// @param graphName str  catalog name for the projection
// @param saeId str  the SAE whose features are projected
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  relationship type
// @param weightProperty str  relationship property projected as weight (npmi, stability, similarity)
// @param costProperty str  relationship property the path cost is computed from (jaccard, npmi, stability, similarity)
// @param costTransform str  neglog (cost = -log2 x, x clipped to [1e-12, 1]) or one_minus (cost = max(0, 1 - x))
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @returns graphName, nodeCount, relationshipCount
MATCH (sae:SAE {saeId: $saeId})
WITH coalesce($runId, sae.runId) AS run
MATCH (s:Feature {saeId: $saeId})
OPTIONAL MATCH (s)-[r:{{relType}}]->(t:Feature {saeId: $saeId})
WHERE r.runId = run
WITH s, t, coalesce(toFloat(r[$weightProperty]), 0.0) AS w, coalesce(toFloat(r[$costProperty]), 1.0) AS x
WITH s, t, w,
     CASE $costTransform
       WHEN 'neglog' THEN -log(CASE WHEN x < 1.0e-12 THEN 1.0e-12 WHEN x > 1.0 THEN 1.0 ELSE x END) / log(2.0)
       ELSE CASE WHEN 1.0 - x < 0.0 THEN 0.0 ELSE 1.0 - x END
     END AS c
WITH gds.graph.project($graphName, s, t,
       {relationshipProperties: {weight: w, cost: c, hop: 1.0}},
       {undirectedRelationshipTypes: ['*']}) AS g
RETURN g.graphName AS graphName, g.nodeCount AS nodeCount, g.relationshipCount AS relationshipCount
