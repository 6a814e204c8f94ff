// _load.update_runs: overwrite the bundle properties of existing :Run nodes (re-load of a run).
// @param rows rows  one map per node, keys = bundle columns of the runs table
// @returns n
UNWIND $rows AS row
MATCH (n:Run {runId: row.runId})
SET n += row
RETURN count(n) AS n
