// gds.louvain_write: Louvain (modularity) on a projection; writes the community id to a Feature property.
// @param graphName str  projected graph (gds.project_sae)
// @param writeProperty FeatureProperty  community<Type> property to write
// @returns communityCount, modularity, nodePropertiesWritten
CALL gds.louvain.write($graphName, {
  writeProperty: '{{writeProperty}}', relationshipWeightProperty: 'weight', concurrency: 1
})
YIELD communityCount, modularity, nodePropertiesWritten
RETURN communityCount, modularity, nodePropertiesWritten
