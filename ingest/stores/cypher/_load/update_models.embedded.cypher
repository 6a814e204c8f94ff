// _load.update_models (embedded): $rows is an Arrow table / DataFrame with the models columns.
LOAD FROM $rows
MATCH (n:Model {modelId: modelId})
SET n.name = name,
    n.nLayers = nLayers,
    n.dModel = dModel,
    n.dMlp = dMlp,
    n.dVocab = dVocab,
    n.nParams = nParams,
    n.source = source
RETURN count(n) AS n
