// _load.merge_nodes: create or update nodes of one label by id (Neo4j loader, idempotent).
// @param label Label  the node label
// @param rows rows  one map per node; must hold the id property
// @returns n
UNWIND $rows AS row
MERGE (n:{{label}} { {{idProp}}: row.{{idProp}} })
SET n += row
RETURN count(n) AS n
