// paths.shortest_unweighted (embedded): recursive SHORTEST instead of shortestPath, properties() instead of a list comprehension; the run filter is a recursive-pattern predicate, which sees only parameters, so a null runId is resolved before the statement runs.
// @current-run source
MATCH p = (a:Feature {featureId: $source})-[:{{relType}}* SHORTEST 1..10 (r, n | WHERE r.runId = $runId)]-(b:Feature {featureId: $target})
RETURN length(p) AS hops, properties(nodes(p), 'featureId') AS path
