// _store.write_feature_property: set one allowlisted write-back property on features.
// @param prop FeatureProperty  the property (community<Type>, component<Type>, pagerank<Type>, degree<Type>, strength<Type>)
// @param rows rows  list of {featureId, value} maps
// @returns n
UNWIND $rows AS row
MATCH (f:Feature {featureId: row.featureId})
SET f.{{prop}} = row.value
RETURN count(f) AS n
