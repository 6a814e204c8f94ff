// _load.set_load_progress: record how far a run's load got (its resume record); null values clear it.
// @param runId str  the run id
// @param progress rows  map {loadStep, loadRowsDone, loadBundle} (keys in ingest/stores/neo4j.py)
// @returns n
MATCH (r:Run {runId: $runId})
SET r += $progress
RETURN count(r) AS n
