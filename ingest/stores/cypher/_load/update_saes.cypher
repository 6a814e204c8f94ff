// _load.update_saes: overwrite the bundle properties of existing :SAE nodes (re-load of a run).
// @param rows rows  one map per node, keys = bundle columns of the saes table
// @returns n
UNWIND $rows AS row
MATCH (n:SAE {saeId: row.saeId})
SET n += row
RETURN count(n) AS n
