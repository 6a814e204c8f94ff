// _load.merge_in_sae: link features to their SAE, (:Feature)-[:IN_SAE]->(:SAE).
// @param rows rows  maps {featureId, saeId}
// @returns n
UNWIND $rows AS row
MATCH (f:Feature {featureId: row.featureId})
MATCH (s:SAE {saeId: row.saeId})
MERGE (f)-[l:IN_SAE]->(s)
RETURN count(l) AS n
