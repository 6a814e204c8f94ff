// gds.pagerank_write: weighted PageRank of a projection; writes the score to a Feature property.
// @param graphName str  projected graph (gds.project_sae)
// @param writeProperty FeatureProperty  pagerank<Type> property to write
// @param damping float = 0.85  damping factor
// @param maxIterations int = 100  iteration cap
// @param tolerance float = 1e-9  convergence tolerance
// @returns ranIterations, didConverge, nodePropertiesWritten
CALL gds.pageRank.write($graphName, {
  writeProperty: '{{writeProperty}}', relationshipWeightProperty: 'weight',
  dampingFactor: $damping, maxIterations: $maxIterations, tolerance: $tolerance
})
YIELD ranIterations, didConverge, nodePropertiesWritten
RETURN ranIterations, didConverge, nodePropertiesWritten
