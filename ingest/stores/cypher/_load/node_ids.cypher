// _load.node_ids: ids of every node of one label (to split a load into new and existing nodes).
// @param label Label  the node label
// @returns id
MATCH (n:{{label}})
RETURN n.{{idProp}} AS id
