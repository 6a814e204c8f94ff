// components.of_feature: the component of one feature and its size.
// @param featureId str  the feature id
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph
// @returns featureId, component, size
MATCH (f:Feature {featureId: $featureId})
MATCH (g:Feature)
WHERE g.saeId = f.saeId AND g.component{{relSuffix}} = f.component{{relSuffix}}
RETURN f.featureId AS featureId, f.component{{relSuffix}} AS component, count(g) AS size
