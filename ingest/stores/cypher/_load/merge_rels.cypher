// _load.merge_rels: create or update feature-to-feature relationships, one per (source, target, runId), and per method when the row has one (a run may link one pair by several methods: MATCHES hungarian/mnn and parent).
// @param relType RelType  the relationship type
// @param rows rows  maps {source, target, runId, props}; props = the other bundle columns
// @returns n
UNWIND $rows AS row
MATCH (a:Feature {featureId: row.source})
MATCH (b:Feature {featureId: row.target})
FOREACH (_ IN CASE WHEN row.props.method IS NULL THEN [1] ELSE [] END |
  MERGE (a)-[r:{{relType}} {runId: row.runId}]->(b)
  SET r += row.props)
FOREACH (_ IN CASE WHEN row.props.method IS NULL THEN [] ELSE [1] END |
  MERGE (a)-[r:{{relType}} {runId: row.runId, method: row.props.method}]->(b)
  SET r += row.props)
RETURN count(*) AS n
