// gds.wcc_write: weakly connected components of a projection; writes the component id to a Feature property.
// @param graphName str  projected graph (gds.project_sae)
// @param writeProperty FeatureProperty  component<Type> property to write
// @returns componentCount, nodePropertiesWritten
CALL gds.wcc.write($graphName, {writeProperty: '{{writeProperty}}'})
YIELD componentCount, nodePropertiesWritten
RETURN componentCount, nodePropertiesWritten
