// universality.match_stats: per SAE pair and matching method, number of matches, mutual ones, mean cosine and activation correlation.
// @param runId str = null  only matches of this run (null: each source SAE's current run, the last loaded)
// @returns sourceSae, targetSae, method, nMatches, nMutual, meanCosine, meanActCorr
MATCH (s:SAE)
MATCH (a:Feature)-[m:MATCHES]->(:Feature)
WHERE a.saeId = s.saeId AND m.runId = coalesce($runId, s.runId)
RETURN m.sourceSae AS sourceSae, m.targetSae AS targetSae, m.method AS method, count(m) AS nMatches,
       sum(CASE WHEN m.mutual THEN 1 ELSE 0 END) AS nMutual, avg(m.cosine) AS meanCosine,
       avg(m.actCorr) AS meanActCorr
ORDER BY sourceSae, targetSae, method
