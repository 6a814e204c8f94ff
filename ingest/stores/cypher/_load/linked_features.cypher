// _load.linked_features: ids of the features that already have their IN_SAE link (embedded re-load).
// @returns id
MATCH (f:Feature)-[:IN_SAE]->(:SAE)
RETURN f.featureId AS id
