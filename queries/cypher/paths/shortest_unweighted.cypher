// paths.shortest_unweighted: one shortest path (fewest hops, at most 10) between two features.
// @param source str  start feature id
// @param target str  end feature id
// @param relType RelType  relationship type walked (undirected)
// @returns hops, path
MATCH p = shortestPath((a:Feature {featureId: $source})-[:{{relType}}*..10]-(b:Feature {featureId: $target}))
RETURN length(p) AS hops, [n IN nodes(p) | n.featureId] AS path
