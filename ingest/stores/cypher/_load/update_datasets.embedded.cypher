// _load.update_datasets (embedded): $rows is an Arrow table / DataFrame with the datasets columns.
LOAD FROM $rows
MATCH (n:Dataset {datasetId: datasetId})
SET n.name = name,
    n.nTokens = nTokens,
    n.nSequences = nSequences,
    n.fingerprint = fingerprint
RETURN count(n) AS n
