// _store.features: every property of the features of one SAE (all SAEs when saeId is null).
// @param saeId str = null  only features of this SAE
// @returns featureId, saeId, index, density, nFirings, meanAct, maxAct, decoderNorm, dead, topTokens, topTokenActs, topLogits, topLogitValues, topExamples, topExampleActs, communityCoActivates, communityLasso, communityCosine, componentCoActivates, componentLasso, componentCosine, pagerankCoActivates, pagerankLasso, pagerankCosine, degreeCoActivates, degreeLasso, degreeCosine, strengthCoActivates, strengthLasso, strengthCosine
MATCH (s:SAE)
WHERE s.saeId = coalesce($saeId, s.saeId)
MATCH (f:Feature)
WHERE f.saeId = s.saeId
RETURN f.featureId AS featureId,
       f.saeId AS saeId,
       f.`index` AS `index`,
       f.density AS density,
       f.nFirings AS nFirings,
       f.meanAct AS meanAct,
       f.maxAct AS maxAct,
       f.decoderNorm AS decoderNorm,
       f.dead AS dead,
       f.topTokens AS topTokens,
       f.topTokenActs AS topTokenActs,
       f.topLogits AS topLogits,
       f.topLogitValues AS topLogitValues,
       f.topExamples AS topExamples,
       f.topExampleActs AS topExampleActs,
       f.communityCoActivates AS communityCoActivates,
       f.communityLasso AS communityLasso,
       f.communityCosine AS communityCosine,
       f.componentCoActivates AS componentCoActivates,
       f.componentLasso AS componentLasso,
       f.componentCosine AS componentCosine,
       f.pagerankCoActivates AS pagerankCoActivates,
       f.pagerankLasso AS pagerankLasso,
       f.pagerankCosine AS pagerankCosine,
       f.degreeCoActivates AS degreeCoActivates,
       f.degreeLasso AS degreeLasso,
       f.degreeCosine AS degreeCosine,
       f.strengthCoActivates AS strengthCoActivates,
       f.strengthLasso AS strengthLasso,
       f.strengthCosine AS strengthCosine
ORDER BY f.saeId, f.`index`
