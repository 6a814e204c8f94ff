// lookup.current_run: the current run of a feature's SAE (the last run loaded for it).
// @param featureId str  feature id "saeId:index"
// @returns runId
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)
RETURN s.runId AS runId
