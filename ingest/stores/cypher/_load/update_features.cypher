// _load.update_features: overwrite the bundle properties of existing :Feature nodes (re-load of a run).
// @param rows rows  one map per node, keys = bundle columns of the features table
// @returns n
UNWIND $rows AS row
MATCH (n:Feature {featureId: row.featureId})
SET n += row
RETURN count(n) AS n
