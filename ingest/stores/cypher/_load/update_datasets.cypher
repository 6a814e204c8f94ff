// _load.update_datasets: overwrite the bundle properties of existing :Dataset nodes (re-load of a run).
// @param rows rows  one map per node, keys = bundle columns of the datasets table
// @returns n
UNWIND $rows AS row
MATCH (n:Dataset {datasetId: row.datasetId})
SET n += row
RETURN count(n) AS n
