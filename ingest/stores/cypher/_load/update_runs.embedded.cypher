// _load.update_runs (embedded): $rows is an Arrow table / DataFrame with the runs columns.
LOAD FROM $rows
MATCH (n:Run {runId: runId})
SET n.createdAt = createdAt,
    n.config = config,
    n.codeVersion = codeVersion,
    n.bundleFormat = bundleFormat,
    n.complete = complete
RETURN count(n) AS n
