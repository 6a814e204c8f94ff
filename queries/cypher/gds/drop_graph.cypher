// gds.drop_graph: remove a projection from the GDS catalog (no error when it does not exist).
// @param graphName str  projected graph name
// @returns graphName
CALL gds.graph.drop($graphName, false)
YIELD graphName
RETURN graphName
