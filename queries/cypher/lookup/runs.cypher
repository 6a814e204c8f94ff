// lookup.runs: provenance of every loaded run (complete = false while, or if, a load did not finish).
// @returns runId, createdAt, codeVersion, complete, nSaes
MATCH (r:Run)
OPTIONAL MATCH (r)-[:PRODUCED]->(s:SAE)
WITH r, count(s) AS nSaes
RETURN r.runId AS runId, r.createdAt AS createdAt, r.codeVersion AS codeVersion, r.complete AS complete, nSaes
ORDER BY runId
