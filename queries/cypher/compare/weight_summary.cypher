// compare.weight_summary: per SAE, number of relationships of one type and their weight range and mean.
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  relationship type
// @returns saeId, nEdges, meanWeight, minWeight, maxWeight
MATCH (a:Feature)-[r:{{relType}}]->(:Feature)
RETURN r.saeId AS saeId, count(r) AS nEdges, avg(r.{{relWeight}}) AS meanWeight,
       min(r.{{relWeight}}) AS minWeight, max(r.{{relWeight}}) AS maxWeight
ORDER BY saeId
