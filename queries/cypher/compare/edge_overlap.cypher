// compare.edge_overlap: of SAE A's relationships whose two ends both match into SAE B, how many are also related in B.
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  relationship type
// @param saeA str  the SAE whose edges are mapped
// @param saeB str  the SAE they are mapped into (MATCHES from A to B)
// @returns nMappable, nPreserved, overlap
MATCH (a1:Feature)-[r:{{relType}}]->(a2:Feature)
WHERE r.saeId = $saeA
MATCH (a1)-[:MATCHES]->(b1:Feature)
MATCH (a2)-[:MATCHES]->(b2:Feature)
WHERE b1.saeId = $saeB AND b2.saeId = $saeB
OPTIONAL MATCH (b1)-[rb:{{relType}}]-(b2)
WITH count(*) AS nMappable, count(rb) AS nPreserved
RETURN nMappable, nPreserved, CASE WHEN nMappable = 0 THEN null ELSE nPreserved * 1.0 / nMappable END AS overlap
