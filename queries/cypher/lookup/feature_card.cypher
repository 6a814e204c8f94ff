// lookup.feature_card: everything known about one feature, with its SAE, model and write-back results.
// @param featureId str  feature id "saeId:index"
// @returns featureId, saeId, index, density, nFirings, meanAct, maxAct, decoderNorm, dead, topTokens, topTokenActs, topLogits, topLogitValues, topExamples, hookName, layer, modelId, communityCoActivates, componentCoActivates, pagerankCoActivates
MATCH (f:Feature {featureId: $featureId})-[:IN_SAE]->(s:SAE)-[:OF_MODEL]->(m:Model)
RETURN f.featureId AS featureId, f.saeId AS saeId, f.`index` AS `index`, f.density AS density,
       f.nFirings AS nFirings, f.meanAct AS meanAct, f.maxAct AS maxAct, f.decoderNorm AS decoderNorm,
       f.dead AS dead, f.topTokens AS topTokens, f.topTokenActs AS topTokenActs, f.topLogits AS topLogits,
       f.topLogitValues AS topLogitValues, f.topExamples AS topExamples, s.hookName AS hookName,
       s.layer AS layer, m.modelId AS modelId, f.communityCoActivates AS communityCoActivates,
       f.componentCoActivates AS componentCoActivates, f.pagerankCoActivates AS pagerankCoActivates
