// _load.update_features (embedded): $rows is an Arrow table / DataFrame with the features columns.
LOAD FROM $rows
MATCH (n:Feature {featureId: featureId})
SET n.saeId = saeId,
    n.`index` = `index`,
    n.density = density,
    n.nFirings = nFirings,
    n.meanAct = meanAct,
    n.maxAct = maxAct,
    n.decoderNorm = decoderNorm,
    n.dead = dead,
    n.topTokens = topTokens,
    n.topTokenActs = topTokenActs,
    n.topLogits = topLogits,
    n.topLogitValues = topLogitValues,
    n.topExamples = topExamples,
    n.topExampleActs = topExampleActs
RETURN count(n) AS n
