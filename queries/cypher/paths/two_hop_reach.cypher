// paths.two_hop_reach: how many distinct features lie within one and within two hops of a feature.
// @param featureId str  the start feature id
// @param relType RelType  relationship type walked (undirected)
// @returns featureId, nWithin1, nWithin2
MATCH (f:Feature {featureId: $featureId})
OPTIONAL MATCH (f)-[:{{relType}}]-(g:Feature)
WITH f, count(DISTINCT g) AS nWithin1
OPTIONAL MATCH (f)-[:{{relType}}*1..2]-(h:Feature)
WHERE h.featureId <> f.featureId
RETURN f.featureId AS featureId, nWithin1, count(DISTINCT h) AS nWithin2
