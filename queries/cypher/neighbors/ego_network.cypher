// neighbors.ego_network: every relationship among a feature and its direct neighbours (its ego network).
// @param featureId str  the centre feature id
// @param relType RelType  relationship type
// @returns source, target, weight
MATCH (f:Feature {featureId: $featureId})-[:{{relType}}]-(g:Feature)
WITH f, collect(g.featureId) AS ids
WITH ids + [f.featureId] AS ids
UNWIND ids AS id
MATCH (a:Feature {featureId: id})-[r:{{relType}}]->(b:Feature)
WHERE b.featureId IN ids
RETURN a.featureId AS source, b.featureId AS target, r.{{relWeight}} AS weight
ORDER BY source, target
