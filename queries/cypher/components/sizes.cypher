// components.sizes: connected components and their sizes (reads the component<Type> write-back).
// @param relType RelType(CO_ACTIVATES|LASSO|COSINE)  which graph
// @param saeId str = null  only this SAE
// @returns saeId, component, size
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (f:Feature)
WHERE f.saeId = s.saeId AND f.component{{relSuffix}} IS NOT NULL
RETURN f.saeId AS saeId, f.component{{relSuffix}} AS component, count(*) AS size
ORDER BY saeId, size DESC, component
