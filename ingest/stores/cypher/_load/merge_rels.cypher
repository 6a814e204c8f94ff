// _load.merge_rels: create or update feature-to-feature relationships, one per (source, target, runId).
// @param relType RelType  the relationship type
// @param rows rows  maps {source, target, runId, props}; props = the other bundle columns
// @returns n
UNWIND $rows AS row
MATCH (a:Feature {featureId: row.source})
MATCH (b:Feature {featureId: row.target})
MERGE (a)-[r:{{relType}} {runId: row.runId}]->(b)
SET r += row.props
RETURN count(r) AS n
