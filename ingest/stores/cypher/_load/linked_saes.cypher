// _load.linked_saes: ids of the SAEs that already have their OF_MODEL link (embedded re-load).
// @returns id
MATCH (s:SAE)-[:OF_MODEL]->(:Model)
RETURN s.saeId AS id
