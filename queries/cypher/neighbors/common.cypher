// neighbors.common: features adjacent to both of two features by one relationship type.
// @param featureA str  first feature id
// @param featureB str  second feature id
// @param relType RelType  relationship type
// @returns neighborId, weightA, weightB
MATCH (a:Feature {featureId: $featureA})-[ra:{{relType}}]-(g:Feature)-[rb:{{relType}}]-(b:Feature {featureId: $featureB})
WHERE g.featureId <> a.featureId AND g.featureId <> b.featureId
RETURN g.featureId AS neighborId, ra.{{relWeight}} AS weightA, rb.{{relWeight}} AS weightB
ORDER BY neighborId
