// _load.update_saes (embedded): $rows is an Arrow table / DataFrame with the saes columns.
LOAD FROM $rows
MATCH (n:SAE {saeId: saeId})
SET n.modelId = modelId,
    n.release = release,
    n.saeName = saeName,
    n.hookName = hookName,
    n.layer = layer,
    n.dIn = dIn,
    n.dSae = dSae,
    n.architecture = architecture,
    n.seed = seed,
    n.l0 = l0,
    n.source = source,
    n.runId = runId
RETURN count(n) AS n
