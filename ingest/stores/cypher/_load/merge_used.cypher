// _load.merge_used: provenance, (:Run)-[:USED]->(:Dataset).
// @param runId str  the run id
// @param datasetId str  the dataset id
// @returns n
MATCH (r:Run {runId: $runId})
MATCH (d:Dataset {datasetId: $datasetId})
MERGE (r)-[l:USED]->(d)
RETURN count(l) AS n
