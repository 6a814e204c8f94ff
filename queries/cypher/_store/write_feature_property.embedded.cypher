// _store.write_feature_property (embedded): $rows is a DataFrame with columns featureId, value.
LOAD FROM $rows
MATCH (f:Feature {featureId: featureId})
SET f.{{prop}} = value
RETURN count(f) AS n
