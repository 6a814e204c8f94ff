// LadybugDB (embedded) schema: the same labels, types and properties as Neo4j (schema/model.md).
// Schema first: every column COPY fills, and every write-back property, is declared here.
// Node tables are keyed by their id (PRIMARY KEY = uniqueness + hash index).
CREATE NODE TABLE IF NOT EXISTS Model(modelId STRING PRIMARY KEY, name STRING, nLayers INT64, dModel INT64, dMlp INT64, dVocab INT64, nParams INT64, source STRING);
CREATE NODE TABLE IF NOT EXISTS SAE(saeId STRING PRIMARY KEY, modelId STRING, release STRING, saeName STRING, hookName STRING, layer INT64, dIn INT64, dSae INT64, architecture STRING, seed INT64, l0 DOUBLE, source STRING, runId STRING);
CREATE NODE TABLE IF NOT EXISTS Dataset(datasetId STRING PRIMARY KEY, name STRING, nTokens INT64, nSequences INT64, fingerprint STRING);
CREATE NODE TABLE IF NOT EXISTS Run(runId STRING PRIMARY KEY, createdAt STRING, config STRING, codeVersion STRING, bundleFormat INT64, complete BOOLEAN);
CREATE NODE TABLE IF NOT EXISTS Feature(featureId STRING PRIMARY KEY, saeId STRING, `index` INT64, density DOUBLE, nFirings INT64, meanAct DOUBLE, maxAct DOUBLE, decoderNorm DOUBLE, dead BOOLEAN, topTokens STRING[], topTokenActs DOUBLE[], topLogits STRING[], topLogitValues DOUBLE[], topExamples STRING[], topExampleActs DOUBLE[], communityCoActivates INT64, communityLasso INT64, communityCosine INT64, componentCoActivates INT64, componentLasso INT64, componentCosine INT64, pagerankCoActivates DOUBLE, pagerankLasso DOUBLE, pagerankCosine DOUBLE, degreeCoActivates INT64, degreeLasso INT64, degreeCosine INT64, strengthCoActivates DOUBLE, strengthLasso DOUBLE, strengthCosine DOUBLE);
CREATE REL TABLE IF NOT EXISTS IN_SAE(FROM Feature TO SAE);
CREATE REL TABLE IF NOT EXISTS OF_MODEL(FROM SAE TO Model);
CREATE REL TABLE IF NOT EXISTS PRODUCED(FROM Run TO SAE);
CREATE REL TABLE IF NOT EXISTS USED(FROM Run TO Dataset);
CREATE REL TABLE IF NOT EXISTS CO_ACTIVATES(FROM Feature TO Feature, saeId STRING, count INT64, jaccard DOUBLE, npmi DOUBLE, phi DOUBLE, pTargetGivenSource DOUBLE, pSourceGivenTarget DOUBLE, pearson DOUBLE, pValue DOUBLE, qValue DOUBLE, runId STRING);
CREATE REL TABLE IF NOT EXISTS EXCLUDES(FROM Feature TO Feature, saeId STRING, count INT64, expected DOUBLE, oddsRatio DOUBLE, exclusion DOUBLE, npmi DOUBLE, pValue DOUBLE, qValue DOUBLE, runId STRING);
CREATE REL TABLE IF NOT EXISTS LASSO(FROM Feature TO Feature, saeId STRING, weight DOUBLE, stability DOUBLE, nReplicates INT64, nullReplicates INT64, pValue DOUBLE, qValue DOUBLE, runId STRING);
CREATE REL TABLE IF NOT EXISTS COSINE(FROM Feature TO Feature, saeId STRING, similarity DOUBLE, rank INT64, runId STRING);
CREATE REL TABLE IF NOT EXISTS MATCHES(FROM Feature TO Feature, sourceSae STRING, targetSae STRING, cosine DOUBLE, actCorr DOUBLE, method STRING, mutual BOOLEAN, rank INT64, runId STRING);
CREATE REL TABLE IF NOT EXISTS FLOWS_TO(FROM Feature TO Feature, sourceSae STRING, targetSae STRING, sourceLayer INT64, targetLayer INT64, cosine DOUBLE, rank INT64, pTargetGivenSource DOUBLE, actCorr DOUBLE, runId STRING);
