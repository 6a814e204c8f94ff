// compare.weight_summary: per SAE, number of relationships of one type and their weight range and mean.
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  relationship type
// @param runId str = null  only relationships of this run (null: each SAE's current run, the last loaded)
// @returns saeId, nEdges, meanWeight, minWeight, maxWeight
MATCH (a:Feature)-[r:{{relType}}]->(:Feature)
MATCH (s:SAE)
WHERE s.saeId = r.saeId AND r.runId = coalesce($runId, s.runId)
RETURN r.saeId AS saeId, count(r) AS nEdges, avg(r.{{relWeight}}) AS meanWeight,
       min(r.{{relWeight}}) AS minWeight, max(r.{{relWeight}}) AS maxWeight
ORDER BY saeId
