// gds.dijkstra_stream: one shortest path between two features on a projection (cost = 'cost' weighted, 'hop' unweighted).
// @param graphName str  projected graph (gds.project_sae)
// @param source str  start featureId
// @param target str  end featureId
// @param costProperty str = cost  relationship property summed along the path: cost or hop
// @returns cost, nodes, costs
MATCH (a:Feature {featureId: $source}), (b:Feature {featureId: $target})
CALL gds.shortestPath.dijkstra.stream($graphName, {
  sourceNode: a, targetNode: b, relationshipWeightProperty: $costProperty
})
YIELD totalCost, nodeIds, costs
RETURN totalCost AS cost, [n IN gds.util.asNodes(nodeIds) | n.featureId] AS nodes, costs
