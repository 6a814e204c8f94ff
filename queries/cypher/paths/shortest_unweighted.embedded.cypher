// paths.shortest_unweighted (embedded): recursive SHORTEST instead of shortestPath, properties() instead of a list comprehension.
MATCH p = (a:Feature {featureId: $source})-[:{{relType}}* SHORTEST 1..10]-(b:Feature {featureId: $target})
RETURN length(p) AS hops, properties(nodes(p), 'featureId') AS path
