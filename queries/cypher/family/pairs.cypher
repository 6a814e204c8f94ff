// family.pairs: per (SAE A, SAE B) pair with stored MATCHES in a run (the stored-matches view of `saegraph universality`; the store holds no decoders): hungarian, mnn and parent rows, the mean cosine of the hungarian (one-to-one) matches, and the shared fraction = hungarian matches with cosine >= tau over A's width (dSae).
// @param tau float = 0.7  cosine threshold of a shared feature
// @param runId str = null  only matches of this run (null: each A SAE's current run, the last loaded)
// @returns saeA, saeB, layerA, layerB, widthA, widthB, nHungarian, nMnn, nParent, meanHungarianCosine, sharedFraction
MATCH (sa:SAE)
MATCH (a:Feature)-[m:MATCHES]->(:Feature)
WHERE a.saeId = sa.saeId AND m.runId = coalesce($runId, sa.runId)
MATCH (sb:SAE)
WHERE sb.saeId = m.targetSae
WITH sa, sb, m.method AS method, m.cosine AS cosine
WITH sa, sb,
     count(CASE WHEN method = 'hungarian' THEN 1 END) AS nHungarian,
     count(CASE WHEN method = 'mnn' THEN 1 END) AS nMnn,
     count(CASE WHEN method = 'parent' THEN 1 END) AS nParent,
     avg(CASE WHEN method = 'hungarian' THEN cosine END) AS meanHungarianCosine,
     count(CASE WHEN method = 'hungarian' AND cosine >= $tau THEN 1 END) AS nShared
RETURN sa.saeId AS saeA, sb.saeId AS saeB, sa.layer AS layerA, sb.layer AS layerB, sa.dSae AS widthA,
       sb.dSae AS widthB, nHungarian, nMnn, nParent, meanHungarianCosine, 1.0 * nShared / sa.dSae AS sharedFraction
ORDER BY saeA, saeB
