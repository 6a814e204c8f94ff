// _load.set_run_complete: mark a run's load finished (true) or in progress (false).
// @param runId str  the run id
// @param complete bool  the flag
// @returns n
MATCH (r:Run {runId: $runId})
SET r.complete = $complete
RETURN count(r) AS n
