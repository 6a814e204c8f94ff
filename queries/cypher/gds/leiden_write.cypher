// gds.leiden_write: Leiden (modularity with resolution gamma) on a projection; writes the community id to a Feature property.
// @param graphName str  projected graph (gds.project_sae)
// @param writeProperty FeatureProperty  community<Type> property to write
// @param gamma float = 1.0  modularity resolution
// @param seed int = 0  random seed (concurrency 1 for reproducibility)
// @returns communityCount, modularity, nodePropertiesWritten
CALL gds.leiden.write($graphName, {
  writeProperty: '{{writeProperty}}', relationshipWeightProperty: 'weight',
  gamma: $gamma, randomSeed: $seed, concurrency: 1
})
YIELD communityCount, modularity, nodePropertiesWritten
RETURN communityCount, modularity, nodePropertiesWritten
