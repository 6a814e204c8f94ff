// flow.ends_at: features of an SAE with no outgoing FLOWS_TO of cosine >= minCosine in the run (they end at its layer), with their best outgoing cosine (null: none at all).
// @param saeId str  the SAE
// @param minCosine float = 0.5  a successor needs at least this decoder cosine
// @param runId str = null  only relationships of this run (null: the SAE's current run, the last loaded)
// @param limit int = 100  at most this many features (by index)
// @returns featureId, index, bestOutgoing
MATCH (s:SAE {saeId: $saeId})<-[:IN_SAE]-(f:Feature)
OPTIONAL MATCH (f)-[r:FLOWS_TO]->(:Feature)
WHERE r.runId = coalesce($runId, s.runId)
WITH f, max(r.cosine) AS best
WHERE best IS NULL OR best < $minCosine
RETURN f.featureId AS featureId, f.`index` AS `index`, best AS bestOutgoing
ORDER BY `index`
LIMIT $limit
