// _load.merge_produced: provenance, (:Run)-[:PRODUCED]->(:SAE) for every SAE of the run.
// @param runId str  the run id
// @param saeIds list[str]  the run's SAE ids
// @returns n
MATCH (r:Run {runId: $runId})
MATCH (s:SAE)
WHERE s.saeId IN $saeIds
MERGE (r)-[l:PRODUCED]->(s)
RETURN count(l) AS n
