// _load.delete_run_rels: delete one run's relationships of one type (before an embedded re-load).
// @param relType RelType  the relationship type
// @param runId str  the run id
// @returns n
MATCH (:Feature)-[r:{{relType}}]->(:Feature)
WHERE r.runId = $runId
DELETE r
RETURN count(*) AS n
