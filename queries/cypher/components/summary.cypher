// components.summary: per SAE, number of components, the largest one's size, and singletons (isolated features).
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph
// @returns saeId, nComponents, largest, nSingletons
MATCH (f:Feature)
WHERE f.component{{relSuffix}} IS NOT NULL
WITH f.saeId AS saeId, f.component{{relSuffix}} AS component, count(*) AS size
RETURN saeId, count(*) AS nComponents, max(size) AS largest, sum(CASE WHEN size = 1 THEN 1 ELSE 0 END) AS nSingletons
ORDER BY saeId
