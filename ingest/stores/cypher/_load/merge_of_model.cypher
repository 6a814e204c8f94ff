// _load.merge_of_model: link SAEs to their model, (:SAE)-[:OF_MODEL]->(:Model).
// @param rows rows  maps {saeId, modelId}
// @returns n
UNWIND $rows AS row
MATCH (s:SAE {saeId: row.saeId})
MATCH (m:Model {modelId: row.modelId})
MERGE (s)-[l:OF_MODEL]->(m)
RETURN count(l) AS n
