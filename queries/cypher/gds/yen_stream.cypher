// gds.yen_stream: the k shortest loopless paths between two features on a projection (Yen's algorithm, GDS gds.shortestPath.yens).
// @param graphName str  projected graph (gds.project_sae)
// @param source str  start featureId
// @param target str  end featureId
// @param k int = 3  number of paths
// @param costProperty str = cost  relationship property summed along the path: cost or hop
// @returns rank, cost, nodes, costs
MATCH (a:Feature {featureId: $source}), (b:Feature {featureId: $target})
CALL gds.shortestPath.yens.stream($graphName, {
  sourceNode: a, targetNode: b, k: $k, relationshipWeightProperty: $costProperty
})
YIELD index, totalCost, nodeIds, costs
RETURN index + 1 AS rank, totalCost AS cost, [n IN gds.util.asNodes(nodeIds) | n.featureId] AS nodes, costs
ORDER BY rank
