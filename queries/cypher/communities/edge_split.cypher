// communities.edge_split: per community, relationships staying inside it vs leaving it (counted at the source end).
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph
// @param saeId str  the SAE id
// @param runId str = null  only relationships of this run (null: the SAE's current run)
// @returns community, internalEdges, boundaryEdges
MATCH (s:SAE {saeId: $saeId})
MATCH (a:Feature)-[r:{{relType}}]->(b:Feature)
WHERE r.saeId = $saeId AND r.runId = coalesce($runId, s.runId) AND a.community{{relSuffix}} IS NOT NULL
RETURN a.community{{relSuffix}} AS community,
       sum(CASE WHEN a.community{{relSuffix}} = b.community{{relSuffix}} THEN 1 ELSE 0 END) AS internalEdges,
       sum(CASE WHEN a.community{{relSuffix}} <> b.community{{relSuffix}} THEN 1 ELSE 0 END) AS boundaryEdges
ORDER BY community
