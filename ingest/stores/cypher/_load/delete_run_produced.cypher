// _load.delete_run_produced: delete a run's PRODUCED links (before an embedded re-load).
// @param runId str  the run id
// @returns n
MATCH (:Run {runId: $runId})-[l:PRODUCED]->(:SAE)
DELETE l
RETURN count(*) AS n
