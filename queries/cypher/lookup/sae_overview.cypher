// lookup.sae_overview: one row per SAE with its model, hook, width, L0 and feature counts.
// @returns saeId, modelId, hookName, layer, dIn, dSae, architecture, l0, nFeatures, nDead
MATCH (f:Feature)-[:IN_SAE]->(s:SAE)-[:OF_MODEL]->(m:Model)
WITH s, m, count(f) AS nFeatures, sum(CASE WHEN f.dead THEN 1 ELSE 0 END) AS nDead
RETURN s.saeId AS saeId, m.modelId AS modelId, s.hookName AS hookName, s.layer AS layer, s.dIn AS dIn, s.dSae AS dSae,
       s.architecture AS architecture, s.l0 AS l0, nFeatures, nDead
ORDER BY saeId
