// _load.delete_run_used: delete a run's USED link (before an embedded re-load).
// @param runId str  the run id
// @returns n
MATCH (:Run {runId: $runId})-[l:USED]->(:Dataset)
DELETE l
RETURN count(*) AS n
