// _load.update_models: overwrite the bundle properties of existing :Model nodes (re-load of a run).
// @param rows rows  one map per node, keys = bundle columns of the models table
// @returns n
UNWIND $rows AS row
MATCH (n:Model {modelId: row.modelId})
SET n += row
RETURN count(n) AS n
