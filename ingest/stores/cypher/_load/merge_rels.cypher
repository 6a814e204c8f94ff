// _load.merge_rels: create or update feature-to-feature relationships, one per (source, target, runId).
// @param relType RelType  the relationship type
// @param rows rows  maps {source, target, runId, props}; props = the other bundle columns, runId among them
// @returns n  relationships created
UNWIND $rows AS row
MATCH (a:Feature {featureId: row.source})
MATCH (b:Feature {featureId: row.target})
// properties(x): no relationship index can answer it, so the lookup expands between a and b
// (module docstring of ingest/stores/neo4j.py, step 4).
WITH a, b, row, [(a)-[x:{{relType}}]->(b) WHERE properties(x).runId = row.runId | x] AS found
FOREACH (x IN found | SET x += row.props)
WITH a, b, row, found
WHERE size(found) = 0
CREATE (a)-[r:{{relType}}]->(b)
SET r = row.props
RETURN count(*) AS n
