// paths.shortest_unweighted: one shortest path (fewest hops, at most 10) between two features, through relationships of one run.
// @param source str  start feature id
// @param target str  end feature id
// @param relType RelType  relationship type walked (undirected)
// @param runId str = null  only relationships of this run (null: the current run of the source's SAE)
// @returns hops, path
MATCH (a:Feature {featureId: $source})-[:IN_SAE]->(s:SAE)
MATCH (b:Feature {featureId: $target})
WITH a, b, coalesce($runId, s.runId) AS run
MATCH p = shortestPath((a)-[:{{relType}}*..10]-(b))
WHERE all(r IN relationships(p) WHERE r.runId = run)
RETURN length(p) AS hops, [n IN nodes(p) | n.featureId] AS path
