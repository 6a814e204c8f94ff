// _load.load_progress: a run's completion flag and properties, to read its resume record (Neo4j loader).
// @param runId str  the run id
// @returns complete, props
MATCH (r:Run {runId: $runId})
RETURN r.complete AS complete, properties(r) AS props
