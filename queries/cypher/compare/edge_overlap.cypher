// compare.edge_overlap: of SAE A's relationships whose two ends both match into SAE B, how many are also related in B.
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  relationship type
// @param saeA str  the SAE whose edges are mapped
// @param saeB str  the SAE they are mapped into (MATCHES from A to B)
// @param runA str = null  run of saeA's edges and of the MATCHES (null: saeA's current run)
// @param runB str = null  run of saeB's edges (null: saeB's current run)
// @returns nMappable, nPreserved, overlap
MATCH (sa:SAE {saeId: $saeA}), (sb:SAE {saeId: $saeB})
WITH coalesce($runA, sa.runId) AS runA, coalesce($runB, sb.runId) AS runB
MATCH (a1:Feature)-[r:{{relType}}]->(a2:Feature)
WHERE r.saeId = $saeA AND r.runId = runA
MATCH (a1)-[m1:MATCHES]->(b1:Feature)
MATCH (a2)-[m2:MATCHES]->(b2:Feature)
WHERE b1.saeId = $saeB AND b2.saeId = $saeB AND m1.runId = runA AND m2.runId = runA
OPTIONAL MATCH (b1)-[rb:{{relType}}]-(b2)
WHERE rb.runId = runB
WITH count(*) AS nMappable, count(rb) AS nPreserved
RETURN nMappable, nPreserved, CASE WHEN nMappable = 0 THEN null ELSE nPreserved * 1.0 / nMappable END AS overlap
